import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../fake-github/index.js';

/** The fake must reject what GitHub rejects, or tests would pass queries production refuses. */

let github: FakeGitHub;
beforeAll(async () => {
  github = await startFakeGitHub();
  github.addPullRequest('Acme', 'Widgets', { number: 1, title: 'One' });
});
afterAll(async () => {
  await github.close();
});

async function ask(query: string, variables: Record<string, unknown> = {}, token = github.token) {
  const res = await fetch(github.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { data?: unknown; errors?: Array<{ message: string; type?: string; path?: unknown[] }> } };
}

describe('fake GitHub', () => {
  it('answers a valid query from fixtures, case-insensitively on owner/repo, in GitHub casing', async () => {
    const { body } = await ask('{ repository(owner: "acme", name: "WIDGETS") { pullRequest(number: 1) { title url } } }');
    expect(body).toEqual({ data: { repository: { pullRequest: { title: 'One', url: 'https://github.com/Acme/Widgets/pull/1' } } } });
  });

  it('rejects a field GitHub does not have', async () => {
    const before = github.stats.invalidQueries;
    const { body } = await ask('{ repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { reviewDecisionX } } }');
    expect(body.errors?.[0]?.message).toMatch(/Cannot query field "reviewDecisionX".*Did you mean "reviewDecision"/);
    expect(github.stats.invalidQueries).toBe(before + 1);
  });

  it('rejects a connection without first or last, and one above 100', async () => {
    const missing = await ask('{ repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { reviewThreads { totalCount } } } }');
    expect(missing.body.errors?.[0]?.message).toMatch(/first.*last.*reviewThreads/);
    const tooMany = await ask('query($n: Int!) { repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { reviewThreads(first: $n) { totalCount } } } }', { n: 101 });
    expect(tooMany.body.errors).toHaveLength(1);
  });

  it('rejects a query over 500,000 nodes', async () => {
    const { body } = await ask(`{ repository(owner: "acme", name: "widgets") { pullRequests(first: 100) { nodes {
      reviewThreads(first: 100) { nodes { comments(first: 100) { totalCount } } } } } } }`);
    expect(body.errors?.[0]?.message).toMatch(/exceeds the maximum limit of 500000/);
  });

  it('counts deprecated fields', async () => {
    const before = github.stats.deprecatedFieldUses;
    await ask('{ repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { reviewThreads(first: 1) { nodes { comments(first: 1) { nodes { databaseId } } } } } } }');
    expect(github.stats.deprecatedFieldUses).toBe(before + 1);
  });

  it('answers NOT_FOUND like GitHub for a missing PR and a missing repository', async () => {
    const pr = await ask('{ repository(owner: "acme", name: "widgets") { pullRequest(number: 404) { title } } }');
    expect(pr.status).toBe(200);
    expect(pr.body).toMatchObject({
      data: { repository: { pullRequest: null } },
      errors: [{ type: 'NOT_FOUND', path: ['repository', 'pullRequest'], message: 'Could not resolve to a PullRequest with the number of 404.' }],
    });
    const repo = await ask('{ repository(owner: "nobody", name: "nothing") { id } }');
    expect(repo.body).toMatchObject({ data: { repository: null }, errors: [{ type: 'NOT_FOUND', path: ['repository'] }] });
  });

  it('answers 401 to a wrong token', async () => {
    const { status, body } = await ask('{ viewer { login } }', {}, 'wrong');
    expect(status).toBe(401);
    expect(body).toMatchObject({ message: 'Bad credentials' });
  });

  it('injects 502s and rate limits with GitHub headers', async () => {
    github.failNext(1, 502);
    expect((await ask('{ viewer { login } }')).status).toBe(502);
    github.rateLimitNext(1, { resetInSeconds: 30 });
    const limited = await ask('{ viewer { login } }');
    expect(limited.status).toBe(403);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    github.rateLimitNext(1, { form: 'graphql' });
    expect((await ask('{ viewer { login } }')).body.errors?.[0]).toMatchObject({ type: 'RATE_LIMITED' });
    expect((await ask('{ viewer { login } }')).status).toBe(200);
  });

  it('pages with real cursors', async () => {
    github.addPullRequest('Acme', 'Widgets', {
      number: 2,
      reviewThreads: Array.from({ length: 3 }, (_, i) => ({ path: `f${i}`, comments: [] })),
    });
    const page = (after: string | null) =>
      ask('query($after: String) { repository(owner: "acme", name: "widgets") { pullRequest(number: 2) { reviewThreads(first: 2, after: $after) { pageInfo { hasNextPage endCursor } nodes { path } } } } }', { after });
    type Page = { data: { repository: { pullRequest: { reviewThreads: { pageInfo: { hasNextPage: boolean; endCursor: string }; nodes: Array<{ path: string }> } } } } };
    const first = (await page(null)).body as Page;
    const threads1 = first.data.repository.pullRequest.reviewThreads;
    expect(threads1.nodes.map((n) => n.path)).toEqual(['f0', 'f1']);
    expect(threads1.pageInfo.hasNextPage).toBe(true);
    const second = (await page(threads1.pageInfo.endCursor)).body as Page;
    expect(second.data.repository.pullRequest.reviewThreads.nodes.map((n) => n.path)).toEqual(['f2']);
    expect(second.data.repository.pullRequest.reviewThreads.pageInfo.hasNextPage).toBe(false);
  });

  it('holds requests until released, and tells when they arrived', async () => {
    const gate = github.holdRequests();
    const before = github.stats.requests;
    const pending = ask('{ viewer { login } }');
    await github.waitForRequests(before + 1);
    let settled = false;
    void pending.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    gate.release();
    expect((await pending).status).toBe(200);
  });
  it('costs a query as GitHub does: fragment spreads and aliases counted where they are used', async () => {
    const cost = async (query: string) => {
      await ask(query);
      const entry = github.stats.log.at(-1);
      expect(entry?.errors).toEqual([]);
      return { cost: entry?.cost, nodes: entry?.nodeCount };
    };
    const fragment = 'fragment T on PullRequestReviewThread { comments(first: 100) { totalCount } }';
    // 1 (threads) + 100 (comments of each thread) requests → 1 point; 100 + 100 × 100 nodes
    expect(await cost(`{ repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { reviewThreads(first: 100) { nodes { ...T } } } } } ${fragment}`)).toEqual({ cost: 1, nodes: 10_100 });
    // the same under 10 aliases: 1,010 requests → 10 points
    const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { ...P } }`).join('\n');
    expect(await cost(`{ ${aliases} } fragment P on PullRequest { reviewThreads(first: 100) { nodes { ...T } } } ${fragment}`)).toEqual({ cost: 10, nodes: 101_000 });
  });

  it('keeps a fixed rate-limit window that tests can move, and refuses a query costing more than remains', async () => {
    const window = async () => {
      const { body, headers } = await ask('{ rateLimit { cost limit remaining resetAt } }');
      return { field: (body.data as { rateLimit: { remaining: number; resetAt: string; limit: number } }).rateLimit, reset: headers.get('x-ratelimit-reset') };
    };
    const first = await window();
    const second = await window();
    expect(second.field.resetAt).toBe(first.field.resetAt);
    expect(second.field.remaining).toBe(first.field.remaining - 1);
    expect(Number(second.reset) * 1000).toBe(Date.parse(first.field.resetAt));

    const resetAt = new Date(Date.parse(first.field.resetAt) + 600_000).toISOString().replace('.000Z', 'Z');
    github.setRateLimit({ remaining: 1, resetAt });
    expect((await window()).field).toMatchObject({ remaining: 0, resetAt, limit: 5000 });
    const refused = await ask('{ rateLimit { cost } }');
    expect(refused.body.errors?.[0]).toMatchObject({ type: 'RATE_LIMITED' });
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    github.setRateLimit({ remaining: 5000 });
    expect((await window()).field).toMatchObject({ remaining: 4999, resetAt });
  });

  it('forgets a removed PR: it answers NOT_FOUND', async () => {
    github.addPullRequest('Acme', 'Widgets', { number: 3 });
    github.removePullRequest('Acme', 'Widgets', 3);
    const { body } = await ask('{ repository(owner: "acme", name: "widgets") { pullRequest(number: 3) { title } } }');
    expect(body.errors?.[0]).toMatchObject({ type: 'NOT_FOUND', path: ['repository', 'pullRequest'] });
  });
});
