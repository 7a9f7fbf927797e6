import { GraphqlResponseError } from '@octokit/graphql';
import { describe, expect, it } from 'vitest';
import { classifyGitHubError, retryAt } from '../../worker/github/errors.js';
import { check, checks, ciState, isoTime, mergeability, ownerAndRepo, prState, reviewDecision, reviewThreads, toSnapshot, type FullThread } from '../../worker/github/map.js';
import type { Comment, Context, PullRequest } from '../../worker/github/response.js';

/** The pure half of the GitHub adapter: GitHub's vocabulary → ao's (seed §2.5–2.6), table by table. */

const run = (status: string, conclusion: string | null, detailsUrl: string | null = null): Context => ({ __typename: 'CheckRun', name: 'build', status, conclusion, detailsUrl });
const status = (state: string, targetUrl: string | null = null): Context => ({ __typename: 'StatusContext', context: 'ci/legacy', state, targetUrl });
const bot = { __typename: 'Bot', login: 'renovate' };
const user = { __typename: 'User', login: 'alice' };
const comment = (id: string, author: Comment['author'], createdAt = '2026-10-01T12:00:00Z'): Comment => ({ id, url: `u${id}`, body: `b${id}`, createdAt, author });
const thread = (id: string, comments: Comment[]): FullThread => ({ id, isResolved: false, path: 'src/a.ts', line: 3, comments });

describe('PR state: merged > closed > draft > open', () => {
  it.each([
    [{ state: 'MERGED', isDraft: true }, 'merged'],
    [{ state: 'MERGED', isDraft: false }, 'merged'],
    [{ state: 'CLOSED', isDraft: true }, 'closed'],
    [{ state: 'CLOSED', isDraft: false }, 'closed'],
    [{ state: 'OPEN', isDraft: true }, 'draft'],
    [{ state: 'OPEN', isDraft: false }, 'open'],
    [{ state: 'OPEN', isDraft: false, merged: true, closed: true }, 'merged'],
    [{ state: 'OPEN', isDraft: true, merged: false, closed: true }, 'closed'],
  ] as const)('%j → %s', (pr, expected) => expect(prState(pr)).toBe(expected));
});

describe('CI from the rollup state', () => {
  it.each([
    ['SUCCESS', 'passing'],
    ['FAILURE', 'failing'],
    ['ERROR', 'failing'],
    ['PENDING', 'pending'],
    ['EXPECTED', 'pending'],
    [null, 'unknown'],
    [undefined, 'unknown'],
    ['SOMETHING_NEW', 'unknown'],
  ] as const)('%s → %s', (state, expected) => expect(ciState(state)).toBe(expected));
});

describe('review decision', () => {
  it.each([
    ['APPROVED', 'approved'],
    ['CHANGES_REQUESTED', 'changes_requested'],
    ['REVIEW_REQUIRED', 'review_required'],
    [null, 'none'],
    ['SOMETHING_NEW', 'none'],
  ] as const)('%s → %s', (decision, expected) => expect(reviewDecision(decision)).toBe(expected));
});

describe('checks', () => {
  it.each([
    // the conclusion decides first, whatever the status says
    ['COMPLETED', 'SUCCESS', 'passed'],
    ['COMPLETED', 'NEUTRAL', 'passed'],
    ['COMPLETED', 'FAILURE', 'failed'],
    ['COMPLETED', 'TIMED_OUT', 'failed'],
    ['COMPLETED', 'ACTION_REQUIRED', 'failed'],
    ['COMPLETED', 'STARTUP_FAILURE', 'failed'],
    ['COMPLETED', 'CANCELLED', 'cancelled'],
    ['COMPLETED', 'SKIPPED', 'skipped'],
    ['COMPLETED', 'STALE', 'skipped'],
    ['IN_PROGRESS', 'SUCCESS', 'passed'],
    // no conclusion (or one we do not know): the status
    ['QUEUED', null, 'queued'],
    ['PENDING', null, 'queued'],
    ['REQUESTED', null, 'queued'],
    ['WAITING', null, 'queued'],
    ['IN_PROGRESS', null, 'in_progress'],
    ['COMPLETED', null, 'unknown'],
    ['IN_PROGRESS', 'SOMETHING_NEW', 'in_progress'],
    ['SOMETHING_NEW', null, 'unknown'],
  ] as const)('check run %s/%s → %s', (runStatus, conclusion, expected) => {
    expect(check(run(runStatus, conclusion), 'sha').status).toBe(expected);
  });

  it.each([
    ['SUCCESS', 'passed'],
    ['FAILURE', 'failed'],
    ['ERROR', 'failed'],
    ['PENDING', 'in_progress'],
    ['EXPECTED', 'in_progress'],
    ['SOMETHING_NEW', 'unknown'],
  ] as const)('status context %s → %s', (state, expected) => expect(check(status(state), 'sha').status).toBe(expected));

  it('lowercases the conclusion ("" when none), takes detailsUrl/targetUrl ("" when none) and the given sha', () => {
    expect(check(run('COMPLETED', 'TIMED_OUT', 'https://ci/1'), 'abc')).toEqual({ name: 'build', sha: 'abc', status: 'failed', conclusion: 'timed_out', url: 'https://ci/1' });
    expect(check(run('QUEUED', null), 'abc')).toEqual({ name: 'build', sha: 'abc', status: 'queued', conclusion: '', url: '' });
    expect(check(status('ERROR', 'https://ci/2'), 'abc')).toEqual({ name: 'ci/legacy', sha: 'abc', status: 'failed', conclusion: 'error', url: 'https://ci/2' });
    expect(check(status('PENDING'), 'abc').url).toBe('');
  });

  it('collapses two contexts of one name (last wins, in its place) and drops nameless ones', () => {
    const mapped = checks(
      [
        { __typename: 'CheckRun', name: 'a', status: 'COMPLETED', conclusion: 'FAILURE', detailsUrl: 'u1' },
        { __typename: 'CheckRun', name: 'b', status: 'IN_PROGRESS', conclusion: null, detailsUrl: null },
        { __typename: 'StatusContext', context: 'a', state: 'SUCCESS', targetUrl: 'u2' },
        { __typename: 'CheckRun', name: '', status: 'COMPLETED', conclusion: 'SUCCESS', detailsUrl: null },
      ],
      'sha1',
    );
    expect(mapped).toEqual([
      { name: 'b', sha: 'sha1', status: 'in_progress', conclusion: '', url: '' },
      { name: 'a', sha: 'sha1', status: 'passed', conclusion: 'success', url: 'u2' },
    ]);
  });
});

describe('mergeability verdict (seed §2.5 steps 1–10)', () => {
  it.each([
    // [mergeable, mergeStateStatus, ci, review, draft] → verdict
    // 1. conflicts first, even over blockers
    ['CONFLICTING', 'CLEAN', 'passing', 'approved', false, 'conflicting'],
    ['MERGEABLE', 'DIRTY', 'passing', 'approved', false, 'conflicting'],
    ['CONFLICTING', 'BLOCKED', 'failing', 'changes_requested', true, 'conflicting'],
    ['UNKNOWN', 'DIRTY', 'passing', 'none', false, 'conflicting'],
    // 3–7. blockers
    ['MERGEABLE', 'BLOCKED', 'passing', 'approved', false, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'passing', 'none', true, 'blocked'],
    ['MERGEABLE', 'DRAFT', 'passing', 'none', true, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'failing', 'none', false, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'passing', 'changes_requested', false, 'blocked'],
    ['MERGEABLE', 'CLEAN', 'passing', 'review_required', false, 'blocked'],
    ['MERGEABLE', 'UNSTABLE', 'failing', 'none', false, 'blocked'],
    ['UNKNOWN', 'UNKNOWN', 'passing', 'none', true, 'blocked'],
    ['MERGEABLE', 'BEHIND', 'passing', 'review_required', false, 'blocked'],
    // 8. unstable (non-failing checks not green)
    ['MERGEABLE', 'UNSTABLE', 'pending', 'none', false, 'unstable'],
    ['MERGEABLE', 'UNSTABLE', 'passing', 'approved', false, 'unstable'],
    // 9. mergeable
    ['MERGEABLE', 'CLEAN', 'passing', 'approved', false, 'mergeable'],
    ['MERGEABLE', 'CLEAN', 'unknown', 'none', false, 'mergeable'],
    ['MERGEABLE', 'HAS_HOOKS', 'passing', 'none', false, 'mergeable'],
    ['MERGEABLE', '', 'pending', 'approved', false, 'mergeable'],
    ['mergeable', 'clean', 'passing', 'none', false, 'mergeable'],
    // 2 and 10. behind base changes nothing; anything else is unknown
    ['MERGEABLE', 'BEHIND', 'passing', 'approved', false, 'unknown'],
    ['MERGEABLE', 'UNKNOWN', 'passing', 'none', false, 'unknown'],
    ['UNKNOWN', 'UNKNOWN', 'passing', 'none', false, 'unknown'],
    ['UNKNOWN', 'CLEAN', 'passing', 'approved', false, 'unknown'],
  ] as const)('%s + %s (CI %s, review %s, draft %s) → %s', (m, s, ci, review, isDraft, expected) =>
    expect(mergeability({ mergeable: m, mergeStateStatus: s, ci, review, isDraft })).toBe(expected),
  );
});

describe('review threads', () => {
  it('marks bots by __typename; a thread is a bot thread only with ≥1 comment, all by bots', () => {
    const [mixed, allBots, empty, allUsers] = reviewThreads([
      thread('T1', [comment('1', bot), comment('2', user)]),
      thread('T2', [comment('3', bot), comment('4', { __typename: 'Bot', login: 'dependabot' })]),
      thread('T3', []),
      thread('T4', [comment('5', user)]),
    ]);
    expect([mixed?.isBot, allBots?.isBot, empty?.isBot, allUsers?.isBot]).toEqual([false, true, false, false]);
    expect(mixed?.comments.map((c) => [c.author, c.isBot])).toEqual([
      ['renovate', true],
      ['alice', false],
    ]);
  });

  it('names a deleted author "ghost" (not a bot) and keeps GitHub\'s comment time, normalised', () => {
    const [t] = reviewThreads([thread('T1', [comment('1', null, '2026-10-01T12:00:00Z')])]);
    expect(t).toEqual({
      id: 'T1',
      path: 'src/a.ts',
      line: 3,
      isResolved: false,
      isBot: false,
      comments: [{ id: '1', author: 'ghost', body: 'b1', url: 'u1', isBot: false, createdAt: '2026-10-01T12:00:00.000Z' }],
    });
    // a thread of deleted authors only is nobody's, not a bot's
    expect(reviewThreads([thread('T2', [comment('2', null)])])[0]?.isBot).toBe(false);
  });
});

describe('snapshot', () => {
  const pr = (patch: Partial<PullRequest> = {}): PullRequest => ({
    id: 'PR_1',
    number: 7,
    url: 'https://github.com/Acme/Widgets/pull/7',
    title: 'Add it',
    state: 'OPEN',
    isDraft: false,
    merged: false,
    closed: false,
    createdAt: '2026-10-01T00:00:00Z',
    updatedAt: '2026-10-02T00:00:00Z',
    mergedAt: null,
    closedAt: null,
    headRefName: 'feature',
    headRefOid: 'head1',
    baseRefName: 'main',
    baseRefOid: 'base1',
    isCrossRepository: true,
    maintainerCanModify: false,
    headRepository: { nameWithOwner: 'Fork/Widgets' },
    mergeable: 'MERGEABLE',
    mergeStateStatus: 'CLEAN',
    reviewDecision: 'APPROVED',
    additions: 5,
    deletions: 1,
    changedFiles: 2,
    author: user,
    statusCheckRollup: { id: 'R', state: 'SUCCESS', commit: { oid: 'head1' }, contexts: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] } },
    reviewThreads: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] },
    ...patch,
  });
  const ref = { owner: 'acme', repo: 'widgets' };

  it('takes owner/repo in GitHub casing from the URL, times normalised, observedAt as given', () => {
    const snapshot = toSnapshot({ pr: pr(), contexts: [run('COMPLETED', 'SUCCESS')], threads: [], observedAt: '2026-11-01T00:00:00.000Z', ref });
    expect(snapshot).toEqual({
      owner: 'Acme',
      repo: 'Widgets',
      number: 7,
      title: 'Add it',
      author: 'alice',
      state: 'open',
      ci: 'passing',
      review: 'approved',
      mergeability: 'mergeable',
      isDraft: false,
      headBranch: 'feature',
      headSha: 'head1',
      baseBranch: 'main',
      baseSha: 'base1',
      headRepository: 'Fork/Widgets',
      isCrossRepository: true,
      additions: 5,
      deletions: 1,
      changedFiles: 2,
      providerCreatedAt: '2026-10-01T00:00:00.000Z',
      providerUpdatedAt: '2026-10-02T00:00:00.000Z',
      mergedAt: null,
      closedAt: null,
      observedAt: '2026-11-01T00:00:00.000Z',
      checks: [{ name: 'build', sha: 'head1', status: 'passed', conclusion: 'success', url: '' }],
      reviewThreads: [],
    });
  });

  it('handles a deleted fork, a deleted author, no checks at all, and the rollup commit as check sha', () => {
    const gone = toSnapshot({ pr: pr({ headRepository: null, author: null, statusCheckRollup: null, reviewDecision: null }), contexts: [], threads: [], observedAt: 'x', ref });
    expect(gone).toMatchObject({ headRepository: '', author: 'ghost', ci: 'unknown', review: 'none', checks: [] });
    const rollup = { id: 'R', state: 'PENDING', commit: { oid: 'rollup-commit' }, contexts: { totalCount: 1, pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] } };
    expect(toSnapshot({ pr: pr({ statusCheckRollup: rollup }), contexts: [run('QUEUED', null)], threads: [], observedAt: 'x', ref }).checks[0]?.sha).toBe('rollup-commit');
    const noCommit = { ...rollup, commit: null };
    expect(toSnapshot({ pr: pr({ statusCheckRollup: noCommit }), contexts: [run('QUEUED', null)], threads: [], observedAt: 'x', ref }).checks[0]?.sha).toBe('head1');
  });

  it('reads owner/repo from github.com and GitHub Enterprise URLs, falling back to the ref', () => {
    expect(ownerAndRepo('https://ghe.example.com/Org/Repo/pull/12')).toEqual({ owner: 'Org', repo: 'Repo' });
    expect(ownerAndRepo('not a url')).toBeNull();
    expect(toSnapshot({ pr: pr({ url: 'weird' }), contexts: [], threads: [], observedAt: 'x', ref })).toMatchObject({ owner: 'acme', repo: 'widgets' });
  });

  it('turns unreadable times into null', () => {
    expect(isoTime('2026-10-01T00:00:00+02:00')).toBe('2026-09-30T22:00:00.000Z');
    expect(isoTime('')).toBeNull();
    expect(isoTime(null)).toBeNull();
  });
});

describe('error classification', () => {
  const what = 'acme/widgets#7';
  const graphqlError = (errors: object[], headers: Record<string, string> = {}) =>
    new GraphqlResponseError({ method: 'POST', url: '/graphql', headers: { authorization: 'bearer secret-token' } }, headers, { data: null, errors: errors as never });
  // shaped like @octokit/request's RequestError (the classifier reads status and response.headers)
  const httpError = (status: number, message: string, headers: Record<string, string> = {}) =>
    Object.assign(new Error(message), {
      name: 'HttpError',
      status,
      request: { method: 'POST', url: 'https://api.github.com/graphql', headers: { authorization: 'bearer [REDACTED]' } },
      response: { status, url: 'https://api.github.com/graphql', headers, data: { message } },
    });
  // octokit's report of a failure without any response
  const networkError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'HttpError', status: 500 });
  const now = Date.now();

  it.each([
    ['GraphQL NOT_FOUND on the PR', graphqlError([{ type: 'NOT_FOUND', path: ['repository', 'pullRequest'], message: 'Could not resolve to a PullRequest with the number of 7.' }]), 'PR_NOT_FOUND'],
    ['GraphQL NOT_FOUND on the repository', graphqlError([{ type: 'NOT_FOUND', path: ['repository'], message: "Could not resolve to a Repository with the name 'acme/widgets'." }]), 'PR_NOT_FOUND'],
    ['GraphQL NOT_FOUND on a follow-up node', graphqlError([{ type: 'NOT_FOUND', path: ['node'], message: 'Could not resolve to a node' }]), 'SCM_UNAVAILABLE'],
    ['GraphQL RATE_LIMITED', graphqlError([{ type: 'RATE_LIMITED', message: 'API rate limit exceeded' }]), 'SCM_RATE_LIMITED'],
    ['GraphQL FORBIDDEN (SAML)', graphqlError([{ type: 'FORBIDDEN', message: 'Resource protected by organization SAML enforcement.' }]), 'SCM_AUTH_FAILED'],
    ['GraphQL validation error', graphqlError([{ message: "Field 'x' doesn't exist on type 'PullRequest'", extensions: { code: 'undefinedField' } }]), 'INTERNAL_ERROR'],
    ['GraphQL timeout', graphqlError([{ message: 'Something went wrong while executing your query. This may be the result of a timeout.' }]), 'SCM_UNAVAILABLE'],
    ['HTTP 401', httpError(401, 'Bad credentials'), 'SCM_AUTH_FAILED'],
    ['HTTP 403 primary limit', httpError(403, 'API rate limit exceeded', { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(now / 1000) + 30) }), 'SCM_RATE_LIMITED'],
    ['HTTP 403 secondary limit', httpError(403, 'You have exceeded a secondary rate limit.', { 'retry-after': '30' }), 'SCM_RATE_LIMITED'],
    ['HTTP 403 other', httpError(403, 'Resource not accessible by integration', { 'x-ratelimit-remaining': '4000' }), 'SCM_AUTH_FAILED'],
    ['HTTP 429', httpError(429, 'Too Many Requests'), 'SCM_RATE_LIMITED'],
    ['HTTP 404', httpError(404, 'Not Found'), 'PR_NOT_FOUND'],
    ['HTTP 502', httpError(502, 'Server Error'), 'SCM_UNAVAILABLE'],
    ['a network failure', networkError, 'SCM_UNAVAILABLE'],
    ['an abort', Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }), 'SCM_UNAVAILABLE'],
  ] as const)('%s → %s', (_, err, code) => {
    const error = classifyGitHubError(err, what);
    expect(error.code).toBe(code);
    expect(JSON.stringify([error.message, error.details])).not.toContain('secret-token');
    if (code === 'PR_NOT_FOUND') expect(error.message).toContain(what);
    if (code === 'SCM_RATE_LIMITED') expect(Date.parse(String(error.details?.retryAt))).toBeGreaterThan(now);
  });

  it('retries after retry-after, else the primary reset when used up, else a minute; never in the past', () => {
    const at = (ms: number) => new Date(ms).toISOString();
    expect(retryAt({ 'retry-after': '30', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 999) }, now)).toBe(at(now + 30_000));
    expect(retryAt({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 120) }, now)).toBe(at(now + 120_000));
    // a secondary limit without retry-after: the primary reset (maybe an hour away) does not apply
    expect(retryAt({ 'x-ratelimit-remaining': '4000', 'x-ratelimit-reset': String(now / 1000 + 3600) }, now)).toBe(at(now + 60_000));
    expect(retryAt({}, now)).toBe(at(now + 60_000));
    expect(retryAt({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 - 100) }, now)).toBe(at(now + 1000));
    expect(retryAt({ 'retry-after': '0' }, now)).toBe(at(now + 1000));
  });
});
