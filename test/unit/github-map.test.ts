import { describe, expect, it } from 'vitest';
import { checks, ciState, mergeability, prState, reviewDecision, reviewThreads } from '../../worker/github/map.js';

describe('GitHub → ao mapping', () => {
  it.each([
    [{ state: 'MERGED', isDraft: true }, 'merged'],
    [{ state: 'CLOSED', isDraft: false }, 'closed'],
    [{ state: 'OPEN', isDraft: true }, 'draft'],
    [{ state: 'OPEN', isDraft: false }, 'open'],
  ] as const)('PR state %j → %s', (pr, expected) => expect(prState(pr)).toBe(expected));

  it.each([
    ['SUCCESS', 'passing'],
    ['FAILURE', 'failing'],
    ['ERROR', 'failing'],
    ['PENDING', 'pending'],
    ['EXPECTED', 'pending'],
    [null, 'unknown'],
  ] as const)('rollup %s → CI %s', (state, expected) => expect(ciState(state)).toBe(expected));

  it.each([
    ['APPROVED', 'approved'],
    ['CHANGES_REQUESTED', 'changes_requested'],
    ['REVIEW_REQUIRED', 'review_required'],
    [null, 'none'],
  ] as const)('review %s → %s', (decision, expected) => expect(reviewDecision(decision)).toBe(expected));

  it.each([
    // [mergeable, mergeStateStatus, ci, review, draft] → verdict
    ['CONFLICTING', 'CLEAN', 'passing', 'approved', false, 'conflicting'],
    ['MERGEABLE', 'DIRTY', 'passing', 'approved', false, 'conflicting'],
    ['MERGEABLE', 'BLOCKED', 'passing', 'approved', false, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'passing', 'none', true, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'failing', 'none', false, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'passing', 'changes_requested', false, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'passing', 'review_required', false, 'blocked'],
    ['MERGEABLE', 'UNSTABLE', 'pending', 'none', false, 'unstable'],
    ['MERGEABLE', 'CLEAN', 'passing', 'approved', false, 'mergeable'],
    ['MERGEABLE', 'HAS_HOOKS', 'passing', 'none', false, 'mergeable'],
    ['MERGEABLE', 'BEHIND', 'passing', 'none', false, 'unknown'],
    ['UNKNOWN', 'UNKNOWN', 'passing', 'none', false, 'unknown'],
  ] as const)('mergeable %s + %s (CI %s, review %s, draft %s) → %s', (m, s, ci, review, isDraft, expected) =>
    expect(mergeability({ mergeable: m, mergeStateStatus: s, ci, review, isDraft })).toBe(expected),
  );

  it('maps check runs by conclusion first, then status; status contexts by state; last of a name wins', () => {
    const mapped = checks(
      [
        { __typename: 'CheckRun', name: 'a', status: 'COMPLETED', conclusion: 'TIMED_OUT', detailsUrl: 'u' },
        { __typename: 'CheckRun', name: 'b', status: 'IN_PROGRESS', conclusion: null, detailsUrl: null },
        { __typename: 'CheckRun', name: 'c', status: 'WAITING', conclusion: null, detailsUrl: null },
        { __typename: 'CheckRun', name: 'd', status: 'COMPLETED', conclusion: 'STALE', detailsUrl: null },
        { __typename: 'StatusContext', context: 'e', state: 'EXPECTED', targetUrl: 't' },
        { __typename: 'CheckRun', name: 'a', status: 'COMPLETED', conclusion: 'NEUTRAL', detailsUrl: 'u2' },
        { __typename: 'CheckRun', name: '', status: 'COMPLETED', conclusion: 'SUCCESS', detailsUrl: null },
      ],
      'sha1',
    );
    expect(mapped.map((c) => [c.name, c.status, c.conclusion, c.url])).toEqual([
      ['b', 'in_progress', '', ''],
      ['c', 'queued', '', ''],
      ['d', 'skipped', 'stale', ''],
      ['e', 'in_progress', 'expected', 't'],
      ['a', 'passed', 'neutral', 'u2'],
    ]);
    expect(new Set(mapped.map((c) => c.sha))).toEqual(new Set(['sha1']));
  });

  it('marks bots by __typename, a thread as a bot thread only when every comment is, and deleted authors as ghost', () => {
    const comment = (id: string, author: { __typename: string; login: string } | null) => ({ id, url: 'u', body: 'b', createdAt: '2026-10-01T00:00:00Z', author });
    const [mixed, allBots, empty] = reviewThreads([
      { id: 'T1', isResolved: false, path: 'a', line: 1, comments: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] }, allComments: [comment('1', { __typename: 'Bot', login: 'renovate' }), comment('2', null)] },
      { id: 'T2', isResolved: true, path: 'b', line: null, comments: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] }, allComments: [comment('3', { __typename: 'Bot', login: 'lint' })] },
      { id: 'T3', isResolved: false, path: 'c', line: 2, comments: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] }, allComments: [] },
    ]);
    expect(mixed?.isBot).toBe(false);
    expect(mixed?.comments.map((c) => [c.author, c.isBot, c.createdAt])).toEqual([
      ['renovate', true, '2026-10-01T00:00:00Z'],
      ['ghost', false, '2026-10-01T00:00:00Z'],
    ]);
    expect(allBots?.isBot).toBe(true);
    expect(empty?.isBot).toBe(false);
  });
});
