export { startFakeGitHub, type FakeGitHub, type FakeStats } from './server.js';
export type { FakeActor, FakeCheckRun, FakeComment, FakePullRequest, FakeReviewThread, FakeStatusContext } from './model.js';
