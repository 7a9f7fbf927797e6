import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Session } from '../../core/domain.js';
import { spawnWorkerProcess, type TestChild } from '../support/child.js';
import { TEST_HOST_ID } from '../support/fixtures.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * Two hosts against one Postgres and one Redis (issue 13): each host's claims and janitor run on
 * a worker of that host only. Host A is the stack's own host (its API makes the sessions); host B
 * has a worker process and nothing else. A session is put on host B by recording it there.
 */

const HOST_B = 'host-b';
let stack: Stack;
let checkout: Awaited<ReturnType<typeof makeCheckout>>;
let number = 1;

beforeAll(async () => {
  stack = await startStack({ worker: false });
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

async function session(host: string, body: Record<string, unknown> = {}): Promise<Session> {
  const reply = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets', ...body });
  expect(reply.status).toBe(201);
  if (host !== TEST_HOST_ID) await stack.db.sql`update ao.sessions set host = ${host} where id = ${reply.body.id}`;
  return { ...reply.body, host };
}

async function accept(sessionId: string): Promise<string> {
  const n = number++;
  stack.github.addPullRequest('Acme', 'Widgets', { number: n, rollupState: 'SUCCESS' });
  const reply = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, { pr: String(n) });
  expect(reply.status).toBe(202);
  return reply.body.jobId;
}

async function job(id: string): Promise<Job> {
  return (await stack.http<Job>('GET', `/api/v1/jobs/${id}`)).body;
}

function worker(host: string, env: NodeJS.ProcessEnv = {}): TestChild {
  return spawnWorkerProcess(stack, { AO_HOST_ID: host, ...env });
}

describe('two hosts', () => {
  it("runs each session's claim on a worker of its host; a host without a live worker keeps its claims queued", async () => {
    const a = worker(TEST_HOST_ID);
    try {
      await a.ready;
      const onA = await session(TEST_HOST_ID);
      const onB = await session(HOST_B);
      const jobA = await accept(onA.id);
      const jobB = await accept(onB.id);
      expect((await stack.waitForJob(jobA)).state).toBe('succeeded');
      // host A's worker finished A's claim and never took B's
      expect((await job(jobB)).state).toBe('queued');

      const b = worker(HOST_B);
      try {
        await b.ready;
        const done = await stack.waitForJob(jobB);
        expect(done).toMatchObject({ state: 'succeeded', result: { branchChanged: true } });
      } finally {
        await b.kill();
      }
    } finally {
      await a.kill();
    }
  });

  it("cleans an expired provisional session of host B with host B's worker, never host A's", async () => {
    const s = await session(HOST_B, { provisional: true });
    const mine = await session(TEST_HOST_ID, { provisional: true });
    await stack.db.sql`update ao.sessions set lease_expires_at = now() - interval '1 minute' where id in ${stack.db.sql([s.id, mine.id])}`;
    const exists = async (id: string) => (await stack.db.sql`select 1 from ao.sessions where id = ${id}`).length === 1;
    const a = worker(TEST_HOST_ID, { SWEEP_MS: '100' });
    try {
      await a.ready;
      // host A's janitor has run (it removed A's own expired session); B's session and worktree stay
      await expect.poll(() => exists(mine.id), { timeout: 10_000 }).toBe(false);
      expect(existsSync(mine.workspacePath)).toBe(false);
      expect(await exists(s.id)).toBe(true);
      expect(existsSync(s.workspacePath)).toBe(true);

      const b = worker(HOST_B, { SWEEP_MS: '100' });
      try {
        await b.ready;
        await expect.poll(() => exists(s.id), { timeout: 10_000 }).toBe(false);
        expect(existsSync(s.workspacePath)).toBe(false);
      } finally {
        await b.kill();
      }
    } finally {
      await a.kill();
    }
  });
});
