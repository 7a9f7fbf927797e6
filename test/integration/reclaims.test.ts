import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, PrSnapshot, Session } from '../../core/domain.js';
import { parseCursor, readEvents, START, type ChangeEvent } from '../../core/store/read-events.js';
import { createGitHubClient } from '../../worker/github/client.js';
import { spawnWorkerProcess } from '../support/child.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * Batch re-claim (issue 14) through the whole pipeline: POST /pr/reclaims → a reclaim_batch job →
 * one GitHub request per 20 PRs (the fake counts them) → one claim-like transaction per PR that
 * keeps its owner → items and counts. PRs are seeded through ao.claim_pr with the snapshots the
 * fake answers, so a re-claim of an untouched PR finds nothing new.
 */

const N = 1000;
let stack: Stack;
let checkout: Awaited<ReturnType<typeof makeCheckout>>;
let owner: Session;
let next = 1;

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
  owner = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
}, 60_000);
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

/** `count` new PRs on the fake, claimed for `sessionId` directly in the store with the fake's own snapshots. */
async function seedPrs(count: number, sessionId = owner.id): Promise<number[]> {
  const numbers = Array.from({ length: count }, () => next++);
  for (const number of numbers) stack.github.addPullRequest('Acme', 'Widgets', { number, rollupState: 'SUCCESS' });
  const client = createGitHubClient({ url: stack.github.url, token: stack.github.token });
  for (let k = 0; k < numbers.length; k += 20) {
    const { items } = await client.fetchPullRequests(numbers.slice(k, k + 20).map((number) => ({ owner: 'Acme', repo: 'Widgets', number })));
    for (const item of items) {
      if (!item.ok) throw item.error;
      await stack.db.sql`select ao.claim_pr(null, null, ${sessionId}, true, ${stack.db.sql.json(item.snapshot as never)}::jsonb)`;
    }
  }
  return numbers;
}

async function reclaim(body: Record<string, unknown>): Promise<string> {
  const reply = await stack.http<{ jobId: string }>('POST', '/api/v1/pr/reclaims', body);
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  return reply.body.jobId;
}

async function items(jobId: string): Promise<Job[]> {
  const all: Job[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: Job[]; nextCursor: string | null } } = await stack.http('GET', `/api/v1/jobs/${jobId}/items?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    all.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return all;
}

async function eventsAfter(cursor: string): Promise<ChangeEvent[]> {
  const { events } = await readEvents(stack.db.sql, { after: parseCursor(cursor), limit: 100_000 });
  return events;
}

/** The cursor after every event committed so far. */
async function cursorNow(): Promise<string> {
  let cursor = '0-0';
  for (;;) {
    const { events, nextCursor } = await readEvents(stack.db.sql, { after: parseCursor(cursor), limit: 10_000 });
    if (events.length === 0) return cursor;
    cursor = nextCursor;
  }
}

const url = (n: number) => `https://github.com/acme/widgets/pull/${n}`;

describe('POST /api/v1/pr/reclaims', () => {
  it(`re-claims ${N} PRs in ceil(${N}/20) GitHub requests: changed ones refreshed, a missing one failed, the rest unchanged with no event`, async () => {
    const numbers = await seedPrs(N);
    const changed = numbers.filter((_, k) => k % 100 === 7);
    for (const n of changed) stack.github.updatePullRequest('Acme', 'Widgets', n, { title: `retitled ${n}`, updatedAt: '2026-11-30T00:00:00Z' });
    const missing = numbers[500] as number;
    stack.github.removePullRequest('Acme', 'Widgets', missing);
    const cursor = await cursorNow();
    const before = stack.github.stats.requests;
    const observedAt = async (n: number) =>
      (await stack.db.sql<[{ at: string }]>`select (doc::jsonb ->> 'observedAt') as at from ao.pr_docs where url = ${url(n)}`)[0].at;
    const seenBefore = await observedAt(numbers[0] as number);

    const jobId = await reclaim({ projectId: 'widgets' });
    const job = await stack.waitForJob(jobId, 120_000);
    expect(job).toMatchObject({
      kind: 'reclaim_batch',
      state: 'succeeded',
      progress: { done: N, total: N },
      result: { counts: { refreshed: changed.length, unchanged: N - changed.length - 1, skipped: 0, failed: 1 } },
    });
    expect(stack.github.stats.requests - before).toBe(Math.ceil(N / 20));
    // an unchanged PR was seen again: its observedAt moved, and the API shows it
    const seenAfter = await observedAt(numbers[0] as number);
    expect(Date.parse(seenAfter)).toBeGreaterThan(Date.parse(seenBefore));
    const listed = (await stack.http<{ prs: Array<{ url: string; observedAt: string }> }>('GET', `/api/v1/sessions/${owner.id}/pr`)).body.prs;
    expect(listed.find((p) => p.url.toLowerCase() === url(numbers[0] as number))?.observedAt).toBe(seenAfter);

    const all = await items(jobId);
    expect(all).toHaveLength(N);
    expect(new Set(all.map((i) => (i.result as { pr: string }).pr))).toEqual(new Set(numbers.map(url)));
    const failed = all.filter((i) => i.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ result: { pr: url(missing), outcome: 'failed:PR_NOT_FOUND' }, error: { code: 'PR_NOT_FOUND' }, parentId: jobId });

    // only the changed PRs wrote PR events, and every PR kept its owner
    const prEvents = (await eventsAfter(cursor)).filter((e) => e.entity !== 'job');
    expect(new Set(prEvents.map((e) => e.key))).toEqual(new Set(changed.map(url)));
    expect(prEvents.filter((e) => e.type === 'pr_updated')).toHaveLength(changed.length);
    const [{ owners }] = await stack.db.sql<[{ owners: string[] }]>`
      select array_agg(distinct session_id) as owners from ao.pull_requests where url = any(${numbers.map(url)})`;
    expect(owners).toEqual([owner.id]);
  }, 180_000);

  it('never takes a PR from its owner, and keeps a newer snapshot a claim stored over the older one GitHub still answers', async () => {
    const [n] = await seedPrs(1);
    // a claim stored facts newer than the fake's (as if GitHub had moved on and a claim raced ahead)
    const [{ doc }] = await stack.db.sql<[{ doc: PrSnapshot & { sessionId: string } }]>`select ao.pr_full_json(p) as doc from ao.pull_requests p where url = ${url(n as number)}`;
    await stack.db.sql`update ao.pull_requests set title = 'newer', provider_updated_at = '2030-01-01T00:00:00Z' where url = ${url(n as number)}`;
    const jobId = await reclaim({ prs: [`acme/widgets#${n}`] });
    const job = await stack.waitForJob(jobId);
    expect(job).toMatchObject({ state: 'succeeded', result: { counts: { refreshed: 0, unchanged: 1, skipped: 0, failed: 0 } } });
    const [row] = await stack.db.sql<[{ title: string; session_id: string }]>`select title, session_id from ao.pull_requests where url = ${url(n as number)}`;
    expect(row).toEqual({ title: 'newer', session_id: doc.sessionId });
  });

  it('a single claim during a batch ends with the newest snapshot and the claimant as owner', async () => {
    const numbers = await seedPrs(200);
    const target = numbers[150] as number;
    const claimant = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
    const batchId = await reclaim({ sessionId: owner.id });
    stack.github.updatePullRequest('Acme', 'Widgets', target, { title: 'the newest', updatedAt: '2026-12-01T00:00:00Z' });
    const claim = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${claimant.id}/pr/claim`, { pr: String(target) });
    expect(claim.status).toBe(202);
    expect((await stack.waitForJob(claim.body.jobId)).state).toBe('succeeded');
    expect((await stack.waitForJob(batchId, 60_000)).state).toBe('succeeded');
    const [row] = await stack.db.sql<[{ title: string; session_id: string }]>`select title, session_id from ao.pull_requests where url = ${url(target)}`;
    expect(row).toEqual({ title: 'the newest', session_id: claimant.id });
  }, 60_000);

  it('refuses bad selectors with 4xx and accepts nothing', async () => {
    const [{ count: before }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.jobs where kind = 'reclaim_batch'`;
    const cases: Array<[unknown, number, string]> = [
      [{}, 400, 'VALIDATION_FAILED'],
      [{ all: true, orphaned: true }, 400, 'VALIDATION_FAILED'],
      [{ all: false }, 400, 'VALIDATION_FAILED'],
      [{ prs: [] }, 400, 'VALIDATION_FAILED'],
      [{ prs: ['142'] }, 400, 'INVALID_PR_REF'],
      [{ prs: ['acme/widgets#1', 'not a ref'] }, 400, 'INVALID_PR_REF'],
      [{ sessionId: 'nosuch-1' }, 404, 'SESSION_NOT_FOUND'],
      [{ projectId: 'nosuch' }, 404, 'PROJECT_NOT_FOUND'],
      [{ all: true, bogus: 1 }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const reply = await stack.http<{ code: string }>('POST', '/api/v1/pr/reclaims', body);
      expect([reply.status, reply.body.code], JSON.stringify(body)).toEqual([status, code]);
    }
    const [{ count: after }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.jobs where kind = 'reclaim_batch'`;
    expect(after).toBe(before);
  });

  it('DELETE on a running batch cancels it and its remaining items; its run finishes no item afterwards', async () => {
    await seedPrs(100);
    const held = stack.github.holdRequests();
    const before = stack.github.stats.requests;
    const jobId = await reclaim({ sessionId: owner.id });
    await stack.github.waitForRequests(before + 1);
    const cancelled = await stack.http<Job>('DELETE', `/api/v1/jobs/${jobId}`);
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'cancelled' } });
    held.release();
    const all = await items(jobId);
    await expect.poll(async () => (await items(jobId)).filter((i) => i.state === 'succeeded').length, { timeout: 5000 }).toBe(0);
    expect(all.every((i) => i.state === 'cancelled')).toBe(true);
    expect((await stack.http<Job>('GET', `/api/v1/jobs/${jobId}`)).body.state).toBe('cancelled');
  });
});

describe('batch re-claim under failure', () => {
  it('a worker SIGKILLed mid-batch: the next run resumes, and every item is finished exactly once', async () => {
    const numbers = await seedPrs(120);
    await stack.stopWorker();
    const worker = spawnWorkerProcess(stack, { LOCK_MS: '1500' });
    try {
      await worker.ready;
      const held = stack.github.holdRequests();
      const before = stack.github.stats.requests;
      const jobId = await reclaim({ prs: numbers.map((n) => `acme/widgets#${n}`) });
      await stack.github.waitForRequests(before + 1);
      await worker.kill();
      held.release();
      await stack.startWorker({ lockDurationMs: 1500, sweep: { intervalMs: 200, staleSeconds: 1 } });
      const job = await stack.waitForJob(jobId, 60_000);
      expect(job).toMatchObject({ state: 'succeeded', attempts: 2, result: { counts: { unchanged: 120 } } });
      const { events } = await readEvents(stack.db.sql, { after: START, limit: 1_000_000 });
      const finishes = events.filter((e) => e.entity === 'job' && e.key.startsWith(`${jobId}-`) && e.type === 'job_updated' && e.after?.state === 'succeeded');
      expect(finishes).toHaveLength(120);
      expect(new Set(finishes.map((e) => e.key)).size).toBe(120);
    } finally {
      await worker.kill();
      await stack.stopWorker();
      await stack.startWorker();
    }
  }, 90_000);
});

describe('the scheduled refresh', () => {
  it('shows a PR merged on GitHub as merged after one refresh, for a live owner', async () => {
    const [n] = await seedPrs(1);
    stack.github.updatePullRequest('Acme', 'Widgets', n as number, { state: 'MERGED', updatedAt: '2026-12-01T12:00:00Z' });
    await stack.stopWorker();
    await stack.startWorker({ refreshIntervalSeconds: 1 });
    try {
      await expect
        .poll(async () => (await stack.db.sql<[{ state: string }]>`select state from ao.pull_requests where url = ${url(n as number)}`)[0]?.state, {
          timeout: 20_000,
        })
        .toBe('merged');
    } finally {
      await stack.stopWorker();
      await stack.startWorker();
    }
  }, 40_000);
});
