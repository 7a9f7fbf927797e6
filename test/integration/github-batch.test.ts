import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PrSnapshot } from '../../core/domain.js';
import { AoError } from '../../core/errors.js';
import { createGitHubClient, DEFAULT_BATCH_SIZE, type BatchItem, type GitHubClient, type PullRequestRef } from '../../worker/github/client.js';
import { BATCH_PAGES, pullRequestsCost, pullRequestsDocument } from '../../worker/github/query.js';
import { startFakeGitHub, type FakeGitHub, type FakePullRequest } from '../fake-github/index.js';

/**
 * Batch re-claim's reads (SPEC §6) over HTTP against the fake GitHub, which validates every
 * query against GitHub's schema and costs it by GitHub's formula. Request counts are exact: one
 * per batch of aliases, plus one per overflowing page of one PR.
 */

let github: FakeGitHub;
let client: GitHubClient;

beforeAll(async () => {
  github = await startFakeGitHub();
  client = createGitHubClient({ url: github.url, token: github.token });
});
afterEach(() => {
  expect(github.stats.log.filter((entry) => entry.errors.length > 0).map((entry) => entry.errors)).toEqual([]);
  expect(github.stats.deprecatedFieldUses).toBe(0);
  github.reset();
});
afterAll(async () => {
  await github.close();
});

let nextNumber = 1;
function addPr(pr: Omit<FakePullRequest, 'number'> = {}, owner = 'Acme', repo = 'Widgets'): PullRequestRef {
  const number = nextNumber++;
  github.addPullRequest(owner, repo, { ...pr, number });
  return { owner: owner.toLowerCase(), repo: repo.toLowerCase(), number };
}

/** A varied PR that fits the batch document's pages (no follow-ups). */
function variedPr(i: number): Omit<FakePullRequest, 'number'> {
  return {
    title: `Change ${i}`,
    author: i % 7 === 0 ? null : { login: `dev${i % 3}` },
    isDraft: i % 5 === 0,
    state: i % 11 === 0 ? 'MERGED' : 'OPEN',
    reviewDecision: i % 2 ? 'APPROVED' : 'CHANGES_REQUESTED',
    isCrossRepository: i % 4 === 0,
    maintainerCanModify: i % 4 === 0,
    headRepository: i % 4 === 0 ? { owner: `fork${i}`, name: 'widgets' } : undefined,
    rollupState: i % 6 === 0 ? null : 'SUCCESS',
    contexts:
      i % 6 === 0
        ? []
        : Array.from({ length: (i * 7) % 51 }, (_, c) => ({ kind: 'CheckRun' as const, name: `check-${c}`, conclusion: c % 9 ? ('SUCCESS' as const) : ('FAILURE' as const) })),
    reviewThreads: Array.from({ length: i % 20 }, (_, t) => ({
      path: `src/f${t}.ts`,
      line: t + 1,
      isResolved: t % 3 === 0,
      comments: Array.from({ length: Math.min(20, 2 + t) }, (_, c) => ({ body: `comment ${c}`, author: { login: c % 2 ? 'bot' : 'human', type: c % 2 ? ('Bot' as const) : ('User' as const) } })),
    })),
  };
}

const withoutObservedAt = ({ observedAt: _observed, ...rest }: PrSnapshot) => rest;

function okSnapshot(item: BatchItem | undefined): PrSnapshot {
  if (!item?.ok) throw new Error(`expected an ok item, got ${JSON.stringify(item)}`);
  return item.snapshot;
}

/** what fetchPullRequest answers for the same PRs, one request each */
async function singly(refs: readonly PullRequestRef[]) {
  const answers = [];
  for (const ref of refs) answers.push(await client.fetchPullRequest(ref));
  return answers;
}

describe('fetchPullRequests', () => {
  it('reads 45 PRs in ceil(45/20) = 3 requests, each snapshot equal to what fetchPullRequest reads', async () => {
    const refs = Array.from({ length: 45 }, (_, i) => addPr(variedPr(i + 1)));
    const before = Date.now();
    const batch = await client.fetchPullRequests(refs);

    expect(DEFAULT_BATCH_SIZE).toBe(20);
    expect(batch.requests).toBe(3);
    expect(github.stats.requests).toBe(3);
    expect(batch.items.map((item) => item.ref)).toEqual(refs);
    expect(batch.rateLimit).toEqual({ cost: 2 * pullRequestsCost(20) + pullRequestsCost(5), remaining: expect.any(Number), limit: 5000, resetAt: expect.any(String) });
    for (const item of batch.items) expect(Date.parse(okSnapshot(item).observedAt)).toBeGreaterThanOrEqual(before - 1);

    github.reset();
    const single = await singly(refs);
    expect(github.stats.requests).toBe(45);
    expect(batch.items.map((item) => withoutObservedAt(okSnapshot(item)))).toEqual(single.map((answer) => withoutObservedAt(answer.snapshot)));
    expect(batch.items.map((item) => item.ok && item.maintainerCanModify)).toEqual(single.map((answer) => answer.maintainerCanModify));
    // the fixtures fill the batch pages (19 threads of up to 20 comments, 50 checks) without overflowing them
    const snapshots = single.map((answer) => answer.snapshot);
    expect(Math.max(...snapshots.map((s) => s.reviewThreads.length))).toBe(19);
    expect(Math.max(...snapshots.flatMap((s) => s.reviewThreads.map((t) => t.comments.length)))).toBe(20);
    expect(Math.max(...snapshots.map((s) => s.checks.length))).toBe(50);
    expect(new Set(snapshots.map((s) => s.state))).toEqual(new Set(['open', 'draft', 'merged']));
  });

  it('pages only the PR whose connection overflows: one request per overflowing page, exact', async () => {
    const refs = [
      addPr(variedPr(3)),
      // 30 threads: 20 in the batch, the other 10 in one MORE_THREADS page
      addPr({ reviewThreads: Array.from({ length: 30 }, (_, t) => ({ path: `t${t}`, comments: [{ body: `c${t}`, author: { login: 'r' } }] })) }),
      addPr(variedPr(4)),
      // 60 contexts: 50 in the batch, 10 in one MORE_CONTEXTS page
      addPr({ contexts: Array.from({ length: 60 }, (_, c) => ({ kind: 'StatusContext' as const, context: `ci/${c}`, state: 'SUCCESS' as const })) }),
      // a thread of 25 comments (20 in the batch, 5 in one MORE_COMMENTS page) and one of 141 (20, then pages of 100 and 21)
      addPr({
        reviewThreads: [
          { path: 'a', comments: Array.from({ length: 25 }, (_, c) => ({ body: `a${c}`, author: { login: 'r' } })) },
          { path: 'b', comments: Array.from({ length: 141 }, (_, c) => ({ body: `b${c}`, author: { login: 'r' } })) },
        ],
      }),
    ];
    const batch = await client.fetchPullRequests(refs);

    expect(batch.requests).toBe(1 + 5);
    expect(github.stats.requests).toBe(6);
    const followUps = github.stats.log.slice(1).map((entry) => /query (\w+)/.exec(entry.query)?.[1]);
    expect(followUps).toEqual(['MoreThreads', 'MoreContexts', 'MoreComments', 'MoreComments', 'MoreComments']);
    const [, threads, , contexts, comments] = batch.items.map(okSnapshot);
    expect(threads?.reviewThreads).toHaveLength(30);
    expect(contexts?.checks).toHaveLength(60);
    expect(comments?.reviewThreads.map((t) => t.comments.length)).toEqual([25, 141]);

    const single = await singly(refs);
    expect(batch.items.map((item) => withoutObservedAt(okSnapshot(item)))).toEqual(single.map((answer) => withoutObservedAt(answer.snapshot)));
  });

  it('fails only the missing PR (PR_NOT_FOUND), and a PR of a missing repository; the rest are read in the same request', async () => {
    const refs = [addPr(), addPr(), addPr(), addPr()];
    const gone = refs[2] as PullRequestRef;
    github.removePullRequest('Acme', 'Widgets', gone.number);
    const noRepo = { owner: 'nobody', repo: 'nothing', number: 1 };
    const batch = await client.fetchPullRequests([...refs, noRepo]);

    expect(batch.requests).toBe(1);
    expect(batch.items.map((item) => item.ok)).toEqual([true, true, false, true, false]);
    const failures = batch.items.filter((item) => !item.ok).map((item) => (item.ok ? null : item.error));
    expect(failures[0]).toBeInstanceOf(AoError);
    expect(failures[0]).toMatchObject({ code: 'PR_NOT_FOUND', details: { ref: `acme/widgets#${gone.number}` } });
    expect(failures[1]).toMatchObject({ code: 'PR_NOT_FOUND', details: { ref: 'nobody/nothing#1' } });
    expect(failures[1]?.message).toMatch(/no repository/);
  });

  it('puts no input into the document: hostile owner and repo text goes only through variables', async () => {
    const hostile = { owner: 'acme", name: "widgets") { id } evil: viewer { login } x: repository(owner: "', repo: 'widgets\n}', number: 1 };
    const ordinary = addPr();
    const batch = await client.fetchPullRequests([ordinary, hostile]);

    expect(batch.items.map((item) => (item.ok ? 'ok' : item.error.code))).toEqual(['ok', 'PR_NOT_FOUND']);
    const [entry] = github.stats.log;
    expect(entry?.query).toBe(pullRequestsDocument(2));
    expect(entry?.query).not.toContain('evil');
    expect(entry?.query).not.toContain('acme');
    expect(entry?.variables).toMatchObject({ o0: 'acme', n0: 'widgets', p0: ordinary.number, o1: hostile.owner, n1: hostile.repo, p1: 1 });
    // the document depends on the count alone
    expect(pullRequestsDocument(2)).toBe(pullRequestsDocument(2));
    expect(pullRequestsDocument(3)).not.toBe(pullRequestsDocument(2));
  });

  it('costs a 20-PR request what query.ts computes: 4 points, 9,400 nodes', async () => {
    const refs = Array.from({ length: 20 }, (_, i) => addPr(variedPr(i)));
    const batch = await client.fetchPullRequests(refs);
    const [entry] = github.stats.log;
    expect(BATCH_PAGES).toEqual({ contexts: 50, threads: 20, comments: 20 });
    expect(pullRequestsCost(20)).toBe(4);
    expect(entry?.cost).toBe(pullRequestsCost(20));
    expect(entry?.nodeCount).toBe(20 * (50 + 20 + 20 * 20));
    expect(batch.rateLimit?.cost).toBe(4);
  });

  it('takes the batch size from the caller', async () => {
    const refs = Array.from({ length: 7 }, () => addPr());
    const batch = await client.fetchPullRequests(refs, { batchSize: 3 });
    expect(batch.requests).toBe(3);
    // three variables per PR; the chunks run side by side, so in any order
    expect(github.stats.log.map((entry) => Object.keys(entry.variables as object).length / 3).sort()).toEqual([1, 3, 3]);
    expect(batch.items.map((item) => item.ref)).toEqual(refs);
  });

  it('leaves an UNKNOWN mergeability unknown: no re-read in a batch', async () => {
    const ref = addPr({ unknownMergeableReads: 1 });
    const batch = await client.fetchPullRequests([ref]);
    expect(batch.requests).toBe(1);
    expect(okSnapshot(batch.items[0]).mergeability).toBe('unknown');
  });

  it('rejects the call when a whole request fails (502, rate limit), as fetchPullRequest does', async () => {
    const refs = [addPr(), addPr()];
    github.failNext(1, 502);
    await expect(client.fetchPullRequests(refs)).rejects.toMatchObject({ code: 'SCM_UNAVAILABLE', details: { status: 502 } });
    github.rateLimitNext(1, { form: 'graphql' });
    await expect(client.fetchPullRequests(refs)).rejects.toMatchObject({ code: 'SCM_RATE_LIMITED', details: { retryAt: expect.any(String) } });
    expect((await client.fetchPullRequests(refs)).items.every((item) => item.ok)).toBe(true);
  });

  it('answers an empty list without a request', async () => {
    expect(await client.fetchPullRequests([])).toEqual({ items: [], requests: 0, rateLimit: null });
    expect(github.stats.requests).toBe(0);
  });
});
