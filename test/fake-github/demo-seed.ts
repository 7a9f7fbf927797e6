import type { FakePullRequest } from './model.js';
import type { FakeGitHub } from './server.js';

/** An open PR with passing CI (a check run and a status context) and one review thread asking for a change. */
export function reviewedPullRequest(number: number, title: string): FakePullRequest {
  return {
    number,
    title,
    rollupState: 'SUCCESS',
    contexts: [
      { kind: 'CheckRun', name: 'build', conclusion: 'SUCCESS' },
      { kind: 'StatusContext', context: 'ci/lint', state: 'SUCCESS' },
    ],
    reviewDecision: 'CHANGES_REQUESTED',
    reviewThreads: [{ path: 'src/factory.ts', line: 12, comments: [{ body: 'Please handle the empty case.', author: { login: 'reviewer' } }] }],
  };
}

/** The README walk-through's repository: acme/widgets with one PR of each interesting kind. */
export function seedDemo(github: FakeGitHub): void {
  github.addPullRequest('acme', 'widgets', reviewedPullRequest(1, 'Add the widget factory'));
  github.addPullRequest('acme', 'widgets', { number: 2, title: 'WIP: widget colours', isDraft: true, rollupState: 'PENDING', contexts: [{ kind: 'CheckRun', name: 'build', status: 'IN_PROGRESS', conclusion: null }] });
  github.addPullRequest('acme', 'widgets', { number: 3, title: 'Old change', state: 'MERGED' });
  github.addPullRequest('acme', 'widgets', {
    number: 4,
    title: 'Many checks',
    contexts: Array.from({ length: 120 }, (_, i) => ({ kind: 'CheckRun' as const, name: `shard-${i}`, conclusion: 'SUCCESS' as const })),
  });
  github.addPullRequest('acme', 'widgets', {
    number: 5,
    title: 'Many review threads',
    reviewThreads: Array.from({ length: 130 }, (_, i) => ({ path: `src/file${i}.ts`, line: i + 1, comments: [{ body: `nit ${i}`, author: { login: 'linter-bot', type: 'Bot' as const } }] })),
  });
  // a fork's PR: its commits are on no branch of acme/widgets, only under refs/pull/6/head
  github.addPullRequest('acme', 'widgets', {
    number: 6,
    title: 'Fix the widget docs (from a fork)',
    isCrossRepository: true,
    headRefName: 'main',
    headRepository: { owner: 'contributor', name: 'widgets' },
    maintainerCanModify: true,
  });
}
