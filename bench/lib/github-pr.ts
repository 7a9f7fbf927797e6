import type { FakePullRequest } from '../../test/fake-github/index.js';

/** The shape of every bench PR: 2 check contexts and 1 review thread with 1 comment (the README demo's #1). */
export function benchPullRequest(number: number): FakePullRequest {
  return {
    number,
    title: `Bench change ${number}`,
    rollupState: 'SUCCESS',
    contexts: [
      { kind: 'CheckRun', name: 'build', conclusion: 'SUCCESS' },
      { kind: 'StatusContext', context: 'ci/lint', state: 'SUCCESS' },
    ],
    reviewDecision: 'CHANGES_REQUESTED',
    reviewThreads: [{ path: 'src/factory.ts', line: 12, comments: [{ body: 'Please handle the empty case.', author: { login: 'reviewer' } }] }],
  };
}
