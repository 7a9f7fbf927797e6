import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AoError } from '../../core/errors.js';
import { createGitHubClient, splitEndpoint, type FetchOptions, type GitHubClient, type PullRequestRef } from '../../worker/github/client.js';
import { forgetGitHubToken, resolveGitHubToken } from '../../worker/github/token.js';
import { startFakeGitHub, type FakeGitHub, type FakePullRequest } from '../fake-github/index.js';

/**
 * The real adapter over HTTP against the fake GitHub, which validates every query against
 * GitHub's published schema and limits. Request counts are part of the contract: 1 per ordinary
 * PR, plus one per overflowing page, plus one re-read for a mergeability GitHub has not computed.
 */

let github: FakeGitHub;
let client: GitHubClient;

beforeAll(async () => {
  github = await startFakeGitHub();
  client = createGitHubClient({ url: github.url, token: github.token });
});
afterEach(() => {
  // every query the adapter sent must be one GitHub accepts, without deprecated fields
  const invalid = github.stats.log.filter((entry) => entry.errors.length > 0);
  expect(invalid.map((entry) => entry.errors)).toEqual([]);
  expect(github.stats.invalidQueries).toBe(0);
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
  // asked in lower case, as users type it: GitHub's casing must come back
  return { owner: owner.toLowerCase(), repo: repo.toLowerCase(), number };
}

async function failure(promise: Promise<unknown>): Promise<AoError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AoError);
  return err as AoError;
}

const fetchPr = (ref: PullRequestRef, options?: FetchOptions) => client.fetchPullRequest(ref, options);

describe('GitHub adapter: snapshots', () => {
  it('reads an open PR with passing CI in exactly one request', async () => {
    const ref = addPr({
      title: 'Add the widget factory',
      author: { login: 'alice' },
      headRefName: 'feature/factory',
      headRefOid: 'a'.repeat(40),
      baseRefOid: 'b'.repeat(40),
      reviewDecision: 'APPROVED',
      additions: 12,
      deletions: 3,
      changedFiles: 2,
      createdAt: '2026-10-01T08:00:00Z',
      updatedAt: '2026-10-02T09:00:00Z',
      rollupState: 'SUCCESS',
      contexts: [
        { kind: 'CheckRun', name: 'build', conclusion: 'SUCCESS', detailsUrl: 'https://ci.example/build/1' },
        { kind: 'CheckRun', name: 'e2e', status: 'IN_PROGRESS', conclusion: null },
        { kind: 'StatusContext', context: 'ci/lint', state: 'SUCCESS', targetUrl: 'https://ci.example/lint' },
      ],
      reviewThreads: [
        {
          path: 'src/factory.ts',
          line: 12,
          comments: [
            { body: 'Handle the empty case.', author: { login: 'bob' }, createdAt: '2026-10-01T10:00:00Z' },
            { body: 'Coverage dropped.', author: { login: 'codecov', type: 'Bot' }, createdAt: '2026-10-01T11:00:00Z' },
          ],
        },
        { path: 'src/other.ts', isResolved: true, comments: [{ body: 'lint', author: { login: 'linter', type: 'Bot' } }] },
      ],
    });
    const before = Date.now();
    const { snapshot, requests, rateLimit } = await fetchPr(ref);

    expect(requests).toBe(1);
    expect(github.stats.requests).toBe(1);
    expect(rateLimit).toEqual({ cost: 1, remaining: expect.any(Number), resetAt: expect.any(String) });
    expect(Date.parse(snapshot.observedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(snapshot.observedAt)).toBeLessThanOrEqual(Date.now());
    expect(snapshot).toMatchObject({
      owner: 'Acme',
      repo: 'Widgets',
      number: ref.number,
      title: 'Add the widget factory',
      author: 'alice',
      state: 'open',
      isDraft: false,
      ci: 'passing',
      review: 'approved',
      mergeability: 'mergeable',
      headBranch: 'feature/factory',
      headSha: 'a'.repeat(40),
      baseBranch: 'main',
      baseSha: 'b'.repeat(40),
      headRepository: 'Acme/Widgets',
      isCrossRepository: false,
      additions: 12,
      deletions: 3,
      changedFiles: 2,
      providerCreatedAt: '2026-10-01T08:00:00.000Z',
      providerUpdatedAt: '2026-10-02T09:00:00.000Z',
      mergedAt: null,
      closedAt: null,
    });
    expect(snapshot.checks).toEqual([
      { name: 'build', sha: 'a'.repeat(40), status: 'passed', conclusion: 'success', url: 'https://ci.example/build/1' },
      { name: 'e2e', sha: 'a'.repeat(40), status: 'in_progress', conclusion: '', url: '' },
      { name: 'ci/lint', sha: 'a'.repeat(40), status: 'passed', conclusion: 'success', url: 'https://ci.example/lint' },
    ]);
    expect(snapshot.reviewThreads).toHaveLength(2);
    expect(snapshot.reviewThreads[0]).toMatchObject({ path: 'src/factory.ts', line: 12, isResolved: false, isBot: false });
    expect(snapshot.reviewThreads[0]?.comments.map((c) => [c.author, c.isBot, c.createdAt, c.body])).toEqual([
      ['bob', false, '2026-10-01T10:00:00.000Z', 'Handle the empty case.'],
      ['codecov', true, '2026-10-01T11:00:00.000Z', 'Coverage dropped.'],
    ]);
    expect(snapshot.reviewThreads[1]).toMatchObject({ path: 'src/other.ts', line: null, isResolved: true, isBot: true });
  });

  it('reads a draft as draft (blocked), and merged and closed PRs as such (the claim decides PR_NOT_OPEN)', async () => {
    const draft = await fetchPr(addPr({ isDraft: true }));
    expect(draft.snapshot).toMatchObject({ state: 'draft', isDraft: true, mergeability: 'blocked' });
    const merged = await fetchPr(addPr({ state: 'MERGED', mergedAt: '2026-10-05T00:00:00Z' }));
    expect(merged.snapshot).toMatchObject({ state: 'merged', mergedAt: '2026-10-05T00:00:00.000Z' });
    const closed = await fetchPr(addPr({ state: 'CLOSED', isDraft: true }));
    expect(closed.snapshot).toMatchObject({ state: 'closed', closedAt: expect.any(String) });
    expect([draft.requests, merged.requests, closed.requests]).toEqual([1, 1, 1]);
  });

  it('reads a fork PR whose fork was deleted, a deleted author, and a PR without any checks', async () => {
    const { snapshot } = await fetchPr(addPr({ isCrossRepository: true, headRepository: null, author: null, rollupState: null, contexts: [] }));
    expect(snapshot).toMatchObject({ isCrossRepository: true, headRepository: '', author: 'ghost', ci: 'unknown', checks: [] });
  });

  it('collapses two contexts of one name on one commit: the last wins', async () => {
    const { snapshot } = await fetchPr(
      addPr({
        rollupState: 'FAILURE',
        contexts: [
          { kind: 'CheckRun', name: 'build', conclusion: 'FAILURE' },
          { kind: 'CheckRun', name: 'build', conclusion: 'SUCCESS' },
        ],
      }),
    );
    expect(snapshot.ci).toBe('failing');
    expect(snapshot.checks).toEqual([expect.objectContaining({ name: 'build', status: 'passed' })]);
  });

  it('works at a GitHub Enterprise style endpoint (/api/graphql)', async () => {
    const ghe = createGitHubClient({ url: github.url.replace(/\/graphql$/, '/api/graphql'), token: github.token });
    const { snapshot, requests } = await ghe.fetchPullRequest(addPr({ title: 'via GHE' }));
    expect(snapshot.title).toBe('via GHE');
    expect(requests).toBe(1);
    expect(splitEndpoint('https://ghe.example.com/api/v3')).toEqual({ baseUrl: 'https://ghe.example.com', url: '/api/graphql' });
    expect(splitEndpoint('https://api.github.com/graphql')).toEqual({ baseUrl: 'https://api.github.com', url: '/graphql' });
  });
});

describe('GitHub adapter: pagination (only what overflows)', () => {
  it('fetches 120 contexts in 2 requests', async () => {
    const { snapshot, requests } = await fetchPr(
      addPr({ contexts: Array.from({ length: 120 }, (_, i) => ({ kind: 'CheckRun' as const, name: `shard-${i}`, conclusion: 'SUCCESS' as const })) }),
    );
    expect(requests).toBe(2);
    expect(github.stats.requests).toBe(2);
    expect(snapshot.checks.map((c) => c.name)).toEqual(Array.from({ length: 120 }, (_, i) => `shard-${i}`));
  });

  it('fetches 130 review threads in 2 requests', async () => {
    const { snapshot, requests } = await fetchPr(
      addPr({ reviewThreads: Array.from({ length: 130 }, (_, i) => ({ path: `src/f${i}.ts`, line: i + 1, comments: [{ body: `nit ${i}`, author: { login: 'rev' } }] })) }),
    );
    expect(requests).toBe(2);
    expect(snapshot.reviewThreads.map((t) => t.path)).toEqual(Array.from({ length: 130 }, (_, i) => `src/f${i}.ts`));
    expect(new Set(snapshot.reviewThreads.map((t) => t.id)).size).toBe(130);
  });

  it('fetches a thread with 150 comments in 2 requests', async () => {
    const { snapshot, requests } = await fetchPr(
      addPr({ reviewThreads: [{ path: 'a.ts', comments: Array.from({ length: 150 }, (_, i) => ({ body: `c${i}`, author: { login: 'rev' } })) }] }),
    );
    expect(requests).toBe(2);
    expect(snapshot.reviewThreads[0]?.comments.map((c) => c.body)).toEqual(Array.from({ length: 150 }, (_, i) => `c${i}`));
  });

  it('pages every overflowing connection, and nothing else: 250 contexts, 230 threads, two long threads', async () => {
    const comments = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ body: `${tag}-${i}`, author: { login: 'rev' } }));
    const threads = Array.from({ length: 230 }, (_, i) => ({ path: `f${i}`, comments: comments(1, `t${i}`) }));
    threads[0] = { path: 'f0', comments: comments(150, 'first') }; // on the first page of threads
    threads[150] = { path: 'f150', comments: comments(250, 'late') }; // on the second page
    const { snapshot, requests } = await fetchPr(
      addPr({ contexts: Array.from({ length: 250 }, (_, i) => ({ kind: 'StatusContext' as const, context: `ctx-${i}`, state: 'PENDING' as const })), reviewThreads: threads }),
    );
    // 1 + 2 more context pages + 2 more thread pages + 1 (150 comments) + 2 (250 comments)
    expect(requests).toBe(8);
    expect(github.stats.requests).toBe(8);
    expect(snapshot.checks).toHaveLength(250);
    expect(snapshot.reviewThreads).toHaveLength(230);
    expect(snapshot.reviewThreads[0]?.comments).toHaveLength(150);
    expect(snapshot.reviewThreads[150]?.comments.map((c) => c.body)).toEqual(Array.from({ length: 250 }, (_, i) => `late-${i}`));
    expect(new Set(snapshot.reviewThreads.flatMap((t) => t.comments.map((c) => c.id))).size).toBe(150 + 250 + 228);
    // no request costs GitHub more than one point
    expect(github.stats.log.map((entry) => entry.cost)).toEqual(Array.from({ length: 8 }, () => 1));
  });
});

describe('GitHub adapter: mergeability computed lazily', () => {
  it('re-reads an UNKNOWN mergeability once: exactly 2 requests and the real value', async () => {
    const ref = addPr({ mergeable: 'CONFLICTING', mergeStateStatus: 'DIRTY', unknownMergeableReads: 1 });
    const { snapshot, requests } = await fetchPr(ref, { unknownMergeableRetryDelayMs: 10 });
    expect(requests).toBe(2);
    expect(github.stats.requests).toBe(2);
    expect(snapshot.mergeability).toBe('conflicting');
  });

  it('waits the delay before re-reading, and re-reads only once when GitHub still does not know', async () => {
    const started = Date.now();
    const { snapshot, requests } = await fetchPr(addPr({ unknownMergeableReads: 5 }), { unknownMergeableRetryDelayMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(requests).toBe(2);
    expect(snapshot.mergeability).toBe('unknown');
  });

  it('does not wait for a closed PR', async () => {
    const { requests } = await fetchPr(addPr({ state: 'CLOSED', unknownMergeableReads: 1 }), { unknownMergeableRetryDelayMs: 10 });
    expect(requests).toBe(1);
  });
});

describe('GitHub adapter: failures', () => {
  it('answers PR_NOT_FOUND for an unknown PR and an unknown repository, naming the ref', async () => {
    github.addRepo('Acme', 'Empty');
    const pr = await failure(fetchPr({ owner: 'acme', repo: 'empty', number: 999 }));
    expect(pr).toMatchObject({ code: 'PR_NOT_FOUND', details: { ref: 'acme/empty#999' } });
    expect(pr.message).toContain('acme/empty#999');
    const repo = await failure(fetchPr({ owner: 'nobody', repo: 'nothing', number: 1 }));
    expect(repo.code).toBe('PR_NOT_FOUND');
    expect(repo.message).toContain('nobody/nothing#1');
    expect(github.stats.requests).toBe(2);
  });

  it('answers SCM_AUTH_FAILED for a token GitHub refuses, without the token in the error', async () => {
    const secret = 'ghp_definitelyNotTheRightToken';
    const wrong = createGitHubClient({ url: github.url, token: () => Promise.resolve(secret) });
    const err = await failure(wrong.fetchPullRequest(addPr()));
    expect(err.code).toBe('SCM_AUTH_FAILED');
    expect(JSON.stringify({ message: err.message, details: err.details, stack: err.stack })).not.toContain(secret);
  });

  it('answers SCM_AUTH_FAILED when no token can be had, without a request', async () => {
    const none = createGitHubClient({ url: github.url, token: () => Promise.reject(new Error('gh is not installed')) });
    expect((await failure(none.fetchPullRequest(addPr()))).code).toBe('SCM_AUTH_FAILED');
    expect(github.stats.requests).toBe(0);
  });

  it('answers SCM_UNAVAILABLE for a 502', async () => {
    github.failNext(1, 502);
    const err = await failure(fetchPr(addPr()));
    expect(err).toMatchObject({ code: 'SCM_UNAVAILABLE', details: { status: 502 } });
  });

  it('answers SCM_UNAVAILABLE when a follow-up page fails, rather than a partial snapshot', async () => {
    const ref = addPr({ contexts: Array.from({ length: 101 }, (_, i) => ({ kind: 'CheckRun' as const, name: `c${i}` })) });
    const fetching = fetchPr(ref);
    await github.waitForRequests(1);
    github.failNext(1, 503);
    expect(await failure(fetching)).toMatchObject({ code: 'SCM_UNAVAILABLE', details: { status: 503 } });
  });

  it.each(['http403', 'graphql', 'secondary'] as const)('answers SCM_RATE_LIMITED with retryAt for a %s rate limit', async (form) => {
    github.rateLimitNext(1, { resetInSeconds: 120, form });
    const before = Date.now();
    const err = await failure(fetchPr(addPr()));
    expect(err.code).toBe('SCM_RATE_LIMITED');
    const retryAt = Date.parse(String(err.details?.retryAt));
    // x-ratelimit-reset has whole seconds
    expect(retryAt).toBeGreaterThanOrEqual(before + 118_000);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + 121_000);
  });

  it('answers SCM_UNAVAILABLE at once when the caller aborts a request in flight', async () => {
    const gate = github.holdRequests();
    try {
      const controller = new AbortController();
      const fetching = fetchPr(addPr(), { signal: controller.signal });
      await github.waitForRequests(1);
      const abortedAt = Date.now();
      controller.abort();
      const err = await failure(fetching);
      expect(Date.now() - abortedAt).toBeLessThan(1000);
      expect(err).toMatchObject({ code: 'SCM_UNAVAILABLE', details: { aborted: true } });
    } finally {
      gate.release();
    }
  });

  it('answers SCM_UNAVAILABLE at once when the caller aborts during the mergeability wait', async () => {
    const controller = new AbortController();
    const fetching = fetchPr(addPr({ unknownMergeableReads: 1 }), { signal: controller.signal, unknownMergeableRetryDelayMs: 20_000 });
    await github.waitForRequests(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const abortedAt = Date.now();
    controller.abort();
    expect(await failure(fetching)).toMatchObject({ code: 'SCM_UNAVAILABLE', details: { aborted: true } });
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(github.stats.requests).toBe(1);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const err = await failure(fetchPr(addPr(), { signal: AbortSignal.abort() }));
    expect(err.code).toBe('SCM_UNAVAILABLE');
    expect(github.stats.requests).toBe(0);
  });

  it('answers SCM_UNAVAILABLE when GitHub does not answer within the timeout', async () => {
    github.setDelay(2000);
    const impatient = createGitHubClient({ url: github.url, token: github.token, timeoutMs: 200 });
    const started = Date.now();
    const err = await failure(impatient.fetchPullRequest(addPr()));
    expect(err).toMatchObject({ code: 'SCM_UNAVAILABLE', details: { timeoutMs: 200 } });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('answers SCM_UNAVAILABLE when nothing listens at the endpoint', async () => {
    const dead = await startFakeGitHub();
    const url = dead.url;
    await dead.close();
    const err = await failure(createGitHubClient({ url, token: 't' }).fetchPullRequest({ owner: 'a', repo: 'b', number: 1 }));
    expect(err.code).toBe('SCM_UNAVAILABLE');
  });
});

describe('GitHub token', () => {
  let bin: string;
  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), 'ao-gh-bin-'));
  });
  afterAll(async () => {
    forgetGitHubToken();
    await rm(bin, { recursive: true, force: true });
  });
  const fakeGh = (script: string) => writeFile(join(bin, 'gh'), `#!/bin/sh\n${script}\n`).then(() => chmod(join(bin, 'gh'), 0o755));

  it('takes GITHUB_TOKEN first', async () => {
    expect(await resolveGitHubToken({ GITHUB_TOKEN: ' from-env \n', PATH: bin })).toBe('from-env');
  });

  it('fails with SCM_AUTH_FAILED when gh is missing or not logged in', async () => {
    forgetGitHubToken();
    const missing = await failure(resolveGitHubToken({ PATH: bin }));
    expect(missing).toMatchObject({ code: 'SCM_AUTH_FAILED', message: 'no GitHub token: set GITHUB_TOKEN or run `gh auth login`' });
    await fakeGh('echo "You are not logged into any GitHub hosts." >&2; exit 1');
    expect((await failure(resolveGitHubToken({ PATH: bin }))).code).toBe('SCM_AUTH_FAILED');
  });

  it('falls back to `gh auth token` and keeps its answer', async () => {
    forgetGitHubToken();
    await fakeGh('[ "$1 $2" = "auth token" ] && echo gho_from_gh');
    expect(await resolveGitHubToken({ PATH: bin })).toBe('gho_from_gh');
    await fakeGh('echo gho_changed');
    expect(await resolveGitHubToken({ PATH: bin })).toBe('gho_from_gh');
  });
});
