import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimResult, Job, Session } from '../../core/domain.js';
import type { FakePullRequest } from '../fake-github/index.js';
import { claimQueueName, openQueueConnection } from '../../core/queue.js';
import { TEST_HOST_ID } from '../support/fixtures.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let nextNumber = 1000;

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  const project = await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' });
  expect(project.status).toBe(201);
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

async function newSession(kind: 'worker' | 'orchestrator' = 'worker'): Promise<Session> {
  const { status, body } = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets', kind });
  expect(status, JSON.stringify(body)).toBe(201);
  return body;
}

function addPr(pr: Partial<FakePullRequest> = {}): number {
  const number = pr.number ?? nextNumber++;
  stack.github.addPullRequest('Acme', 'Widgets', {
    number,
    title: `PR ${number}`,
    rollupState: 'SUCCESS',
    contexts: [{ kind: 'CheckRun', name: 'build', status: 'COMPLETED', conclusion: 'SUCCESS' }],
    mergeable: 'MERGEABLE',
    mergeStateStatus: 'CLEAN',
    ...pr,
  });
  return number;
}

async function claim(sessionId: string, body: unknown, headers: Record<string, string> = {}) {
  return stack.http<{ jobId: string; state: string; links: { self: string } }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, body, headers);
}

async function claimAndWait(sessionId: string, body: unknown): Promise<Job> {
  const accepted = await claim(sessionId, body);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return stack.waitForJob(accepted.body.jobId);
}

describe('POST /sessions/{id}/pr/claim', () => {
  it('accepts with 202, Location and Retry-After, and the job completes with the §3.5 result', async () => {
    const s = await newSession();
    const number = addPr();

    const accepted = await claim(s.id, { pr: String(number) });

    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ state: 'queued', links: { self: `/api/v1/jobs/${accepted.body.jobId}` } });
    expect(accepted.headers.get('location')).toBe(`/api/v1/jobs/${accepted.body.jobId}`);
    expect(accepted.headers.get('retry-after')).toBe('1');
    const job = await stack.waitForJob(accepted.body.jobId);
    expect(job).toMatchObject({ state: 'succeeded', kind: 'claim', sessionId: s.id, error: null, attempts: 1 });
    const result = job.result as ClaimResult;
    expect(result).toMatchObject({ sessionId: s.id, takenOverFrom: [], donorWasTerminated: false, branchChanged: true, branch: `feature/${number}`, pushTarget: 'origin' });
    expect(result.prs[0]).toMatchObject({ number, url: `https://github.com/Acme/Widgets/pull/${number}`, state: 'open', ci: 'passing' });
    const prs = await stack.http<{ sessionId: string; prs: Array<{ number: number }> }>('GET', `/api/v1/sessions/${s.id}/pr`);
    expect(prs.status).toBe(200);
    expect(prs.body.prs.map((p) => p.number)).toEqual([number]);
  });

  it("runs a claim from its session's host queue and signals its end to long polls", async () => {
    const s = await newSession();
    expect(s.host).toBe(TEST_HOST_ID);
    const number = addPr();
    const listener = openQueueConnection(stack.queue, 'producer', stack.db.sql);
    const signalled: string[] = [];
    try {
      await listener.subscribeJobSignals((jobId) => signalled.push(jobId));
      const accepted = await claim(s.id, { pr: String(number) });
      const queue = listener.queue(claimQueueName(TEST_HOST_ID));
      try {
        expect(await queue.getJob(accepted.body.jobId)).toBeDefined();
      } finally {
        await queue.close();
      }
      const job = await stack.waitForJob(accepted.body.jobId);
      expect(job.state).toBe('succeeded');
      await expect.poll(() => signalled, { timeout: 5000 }).toContain(accepted.body.jobId);
    } finally {
      await listener.close();
    }
  });

  it.each([
    ['#N', (n: number) => `#${n}`],
    ['owner/repo#N', (n: number) => `acme/widgets#${n}`],
    ['a URL with /files and a trailing slash', (n: number) => `https://github.com/Acme/Widgets/pull/${n}/files/`],
  ])('accepts the ref form %s', async (_form, ref) => {
    const s = await newSession();
    const number = addPr();
    const job = await claimAndWait(s.id, { pr: ref(number) });
    expect(job.state).toBe('succeeded');
  });

  it('claims a draft PR', async () => {
    const s = await newSession();
    const number = addPr({ isDraft: true });
    const job = await claimAndWait(s.id, { pr: String(number) });
    expect(job.state).toBe('succeeded');
    expect((job.result as ClaimResult).prs[0]).toMatchObject({ state: 'draft', isDraft: true });
  });

  it.each(['MERGED', 'CLOSED'] as const)('fails a %s PR with PR_NOT_OPEN', async (state) => {
    const s = await newSession();
    const number = addPr({ state });
    const job = await claimAndWait(s.id, { pr: String(number) });
    expect(job).toMatchObject({ state: 'failed', error: { code: 'PR_NOT_OPEN' }, attempts: 1 });
  });

  it('fails an unknown PR with PR_NOT_FOUND without retrying', async () => {
    const s = await newSession();
    const before = stack.github.stats.requests;
    const job = await claimAndWait(s.id, { pr: '999999' });
    expect(job).toMatchObject({ state: 'failed', error: { code: 'PR_NOT_FOUND' }, attempts: 1 });
    expect(stack.github.stats.requests - before).toBe(1);
  });

  it('retries GitHub 502s with backoff, then succeeds', async () => {
    const s = await newSession();
    const number = addPr();
    stack.github.failNext(2, 502);
    const job = await claimAndWait(s.id, { pr: String(number) });
    expect(job).toMatchObject({ state: 'succeeded', attempts: 3 });
  });

  it('fails with SCM_UNAVAILABLE once the attempts are used up', async () => {
    const s = await newSession();
    const number = addPr();
    stack.github.failNext(10, 502);
    const job = await claimAndWait(s.id, { pr: String(number) });
    expect(job).toMatchObject({ state: 'failed', error: { code: 'SCM_UNAVAILABLE' }, attempts: 4 });
    stack.github.failNext(0);
  });

  it('waits for a rate-limit reset without using up attempts, then succeeds', async () => {
    const s = await newSession();
    const number = addPr();
    stack.github.rateLimitNext(1, { resetInSeconds: 1, form: 'http403' });
    const job = await claimAndWait(s.id, { pr: String(number) });
    expect(job).toMatchObject({ state: 'succeeded', attempts: 1 });
  });

  it('moves a PR to another session on takeover and names the donor', async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    const number = addPr();
    expect((await claimAndWait(s1.id, { pr: String(number) })).state).toBe('succeeded');
    const job = await claimAndWait(s2.id, { pr: String(number) });
    expect(job.state).toBe('succeeded');
    expect((job.result as ClaimResult).takenOverFrom).toEqual([s1.id]);
  });

  it('refuses a takeover when allowTakeover is false and names the owner', async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    const number = addPr();
    await claimAndWait(s1.id, { pr: String(number) });
    const job = await claimAndWait(s2.id, { pr: String(number), allowTakeover: false });
    expect(job).toMatchObject({ state: 'failed', error: { code: 'PR_CLAIMED_BY_ACTIVE_SESSION', details: { ownerSessionId: s1.id } } });
  });

  it('lets one of two sessions claiming one PR without takeover win and names the winner to the other', async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    const number = addPr();
    const [a, b] = await Promise.all([
      claimAndWait(s1.id, { pr: String(number), allowTakeover: false }),
      claimAndWait(s2.id, { pr: String(number), allowTakeover: false }),
    ]);
    const winner = [a, b].find((j) => j.state === 'succeeded');
    const loser = [a, b].find((j) => j.state === 'failed');
    expect(winner).toBeDefined();
    expect(loser?.error).toMatchObject({ code: 'PR_CLAIMED_BY_ACTIVE_SESSION', details: { ownerSessionId: winner?.sessionId } });
  });

  it('runs 50 claims of different PRs in parallel to success', async () => {
    const sessions = await Promise.all(Array.from({ length: 5 }, () => newSession()));
    const numbers = Array.from({ length: 50 }, () => addPr());
    const jobs = await Promise.all(numbers.map((n, i) => claimAndWait(sessions[i % 5]!.id, { pr: String(n) })));
    expect(jobs.map((j) => j.state)).toEqual(Array(50).fill('succeeded'));
    const [{ count }] = await stack.db.sql<[{ count: number }]>`
      select count(*)::int as count from ao.pull_requests where number = any(${numbers})`;
    expect(count).toBe(50);
  });

  it('fetches 120 check contexts, 130 review threads and a 150-comment thread in full, paging only what overflows', async () => {
    const s = await newSession();
    const before = stack.github.stats.requests;
    const number = addPr({
      contexts: Array.from({ length: 120 }, (_, i) => ({ kind: 'CheckRun' as const, name: `check-${i}`, status: 'COMPLETED' as const, conclusion: 'SUCCESS' as const })),
      reviewThreads: Array.from({ length: 130 }, (_, i) => ({
        path: `f${i}.ts`,
        line: i + 1,
        comments: Array.from({ length: i === 0 ? 150 : 1 }, (_, j) => ({ body: `comment ${i}.${j}`, author: { login: 'reviewer' } })),
      })),
    });
    const job = await claimAndWait(s.id, { pr: String(number) });
    const pr = (job.result as ClaimResult).prs[0];
    expect(pr?.checks).toHaveLength(120);
    expect(pr?.reviewThreads).toHaveLength(130);
    expect(pr?.reviewThreads.find((t) => t.path === 'f0.ts')?.comments).toHaveLength(150);
    // the PR, one more page of contexts, one of threads, one of the long thread's comments
    expect(stack.github.stats.requests - before).toBe(4);
  });

  it('takes one GraphQL request for an ordinary PR', async () => {
    const s = await newSession();
    const number = addPr({ reviewThreads: [{ path: 'a.ts', line: 1, comments: [{ body: 'x', author: { login: 'r' } }] }] });
    const before = stack.github.stats.requests;
    expect((await claimAndWait(s.id, { pr: String(number) })).state).toBe('succeeded');
    expect(stack.github.stats.requests - before).toBe(1);
  });

  it('re-reads mergeability once when GitHub has not computed it yet', async () => {
    const s = await newSession();
    const number = addPr({ unknownMergeableReads: 1, mergeable: 'CONFLICTING', mergeStateStatus: 'DIRTY' });
    const before = stack.github.stats.requests;
    const job = await claimAndWait(s.id, { pr: String(number) });
    expect((job.result as ClaimResult).prs[0]?.mergeability).toBe('conflicting');
    expect(stack.github.stats.requests - before).toBe(2);
  });

  it('sent only queries that GitHub accepts', () => {
    expect(stack.github.stats.requests).toBeGreaterThan(0);
    expect(stack.github.stats.invalidQueries).toBe(0);
    expect(stack.github.stats.deprecatedFieldUses).toBe(0);
  });
});

describe('idempotency', () => {
  it('returns the same job for the same key and body, and claims once', async () => {
    const s = await newSession();
    const number = addPr();
    const key = { 'idempotency-key': `k-${number}` };
    const first = await claim(s.id, { pr: String(number) }, key);
    // the same request written differently is the same request
    const second = await claim(s.id, { pr: `https://github.com/acme/widgets/pull/${number}` }, key);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.jobId).toBe(first.body.jobId);
    await stack.waitForJob(first.body.jobId);
    const [{ count }] = await stack.db.sql<[{ count: number }]>`select count(*)::int as count from ao.jobs where session_id = ${s.id}`;
    expect(count).toBe(1);
  });

  it('refuses the same key with a different body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const s = await newSession();
    const a = addPr();
    const b = addPr();
    const key = { 'idempotency-key': `k-${a}-${b}` };
    expect((await claim(s.id, { pr: String(a) }, key)).status).toBe(202);
    const reused = await claim(s.id, { pr: String(b) }, key);
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });
});

describe('synchronous checks answer at once and enqueue nothing', () => {
  async function jobCount(): Promise<number> {
    const [{ count }] = await stack.db.sql<[{ count: number }]>`select count(*)::int as count from ao.jobs`;
    return count;
  }

  it.each([
    ['malformed JSON', '{', 400, 'INVALID_JSON'],
    ['an empty body object', {}, 400, 'PR_REQUIRED'],
    ['a blank pr', { pr: '   ' }, 400, 'PR_REQUIRED'],
    ['a bad ref', { pr: 'not a pr' }, 400, 'INVALID_PR_REF'],
    ['a PR of another repository', { pr: 'https://github.com/other/repo/pull/1' }, 422, 'PR_PROJECT_MISMATCH'],
  ])('%s → %i %s', async (_case, body, status, code) => {
    const s = await newSession();
    const before = await jobCount();
    const reply = await claim(s.id, body);
    expect(reply.status).toBe(status);
    expect(reply.headers.get('content-type')).toContain('application/problem+json');
    expect(reply.body).toMatchObject({ code, status, requestId: expect.stringMatching(/^req_/) });
    expect(await jobCount()).toBe(before);
  });

  it('an unknown session → 404 SESSION_NOT_FOUND', async () => {
    const reply = await claim('widgets-9999', { pr: '1' });
    expect(reply).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
  });

  it('a terminated session → 409 SESSION_TERMINATED', async () => {
    const s = await newSession();
    expect((await stack.http('POST', `/api/v1/sessions/${s.id}/kill`)).status).toBe(200);
    expect(await claim(s.id, { pr: '1' })).toMatchObject({ status: 409, body: { code: 'SESSION_TERMINATED' } });
  });

  it('an orchestrator → 422 SESSION_NOT_CLAIMABLE', async () => {
    const s = await newSession('orchestrator');
    expect(await claim(s.id, { pr: '1' })).toMatchObject({ status: 422, body: { code: 'SESSION_NOT_CLAIMABLE' } });
  });

  it('a session without workspace → 422 SESSION_NO_WORKSPACE', async () => {
    const s = await newSession();
    await stack.db.sql`update ao.sessions set workspace_path = '' where id = ${s.id}`;
    expect(await claim(s.id, { pr: '1' })).toMatchObject({ status: 422, body: { code: 'SESSION_NO_WORKSPACE' } });
  });
});
