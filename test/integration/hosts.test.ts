import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Session } from '../../core/domain.js';
import { spawnSupportProcess, spawnWorkerProcess, type TestChild } from '../support/child.js';
import { TEST_HOST_ID } from '../support/fixtures.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';
import { queueEnv } from '../support/env.js';

/**
 * Two hosts against one Postgres and one Redis (issue 13), each a machine of its own: its own
 * checkout, its own data dir, its own worker process. Host A ("test") is the stack's host, whose
 * API serves every request of these tests; host B has a worker, and an API only to register its
 * project (a checkout belongs to the host of the API that registered it). Which worker did the git
 * work shows on disk: a worktree's path is under the data dir of the worker that made it.
 */

const HOST_B = 'host-b';
let stack: Stack;
let checkouts: { a: Awaited<ReturnType<typeof makeCheckout>>; b: Awaited<ReturnType<typeof makeCheckout>> };
const dataDirs = { a: '', b: '' };
const workers: { a: TestChild | null; b: TestChild | null } = { a: null, b: null };
let number = 1;

async function startWorker(host: 'a' | 'b'): Promise<void> {
  workers[host] = spawnWorkerProcess(stack, { AO_HOST_ID: host === 'a' ? TEST_HOST_ID : HOST_B, AO_DATA_DIR: dataDirs[host], SWEEP_MS: '200' });
  await workers[host].ready;
}

async function stopWorker(host: 'a' | 'b'): Promise<void> {
  await workers[host]?.kill();
  workers[host] = null;
}

beforeAll(async () => {
  stack = await startStack({ worker: false, hostWaitMs: 1500 });
  await stack.stopHostWorker(); // host A's git work is its worker process's
  checkouts = { a: await makeCheckout(), b: await makeCheckout() };
  dataDirs.a = await mkdtemp(join(tmpdir(), 'ao-host-a-'));
  dataDirs.b = await mkdtemp(join(tmpdir(), 'ao-host-b-'));
  await Promise.all([startWorker('a'), startWorker('b')]);
  expect((await stack.http('POST', '/api/v1/projects', { path: checkouts.a.path, id: 'alpha' })).status).toBe(201);
  const apiB = spawnSupportProcess('api-process.ts', {
    DATABASE_URL: stack.db.url,
    ...queueEnv(stack.queue),
    AO_HOST_ID: HOST_B,
  });
  try {
    const reply = await fetch(`${await apiB.ready}/api/v1/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: checkouts.b.path, id: 'beta' }),
    });
    expect(reply.status).toBe(201);
  } finally {
    await apiB.kill(); // from here on only host A's API is up
  }
});
afterAll(async () => {
  await Promise.all([stopWorker('a'), stopWorker('b')]);
  await stack.close();
  await Promise.all([checkouts.a.remove(), checkouts.b.remove()]);
  await Promise.all([rm(dataDirs.a, { recursive: true, force: true }), rm(dataDirs.b, { recursive: true, force: true })]);
});

async function session(projectId: 'alpha' | 'beta', body: Record<string, unknown> = {}): Promise<Session> {
  const reply = await stack.http<Session>('POST', '/api/v1/sessions', { projectId, ...body });
  expect(reply.status).toBe(201);
  return reply.body;
}

async function accept(sessionId: string): Promise<{ jobId: string; pr: number }> {
  const pr = number++;
  stack.github.addPullRequest('Acme', 'Widgets', { number: pr, rollupState: 'SUCCESS' });
  const reply = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, { pr: String(pr) });
  expect(reply.status).toBe(202);
  return { jobId: reply.body.jobId, pr };
}

const currentBranch = (worktree: string) => execFileSync('git', ['branch', '--show-current'], { cwd: worktree }).toString().trim();
const hasBranch = (checkout: string, branch: string) => execFileSync('git', ['branch', '--list', branch], { cwd: checkout }).toString().trim() !== '';
const sessionExists = async (id: string) => (await stack.db.sql`select 1 from ao.sessions where id = ${id}`).length === 1;

describe('two hosts', () => {
  it("makes, switches and removes each host's worktrees with that host's worker, through one API", async () => {
    const onA = await session('alpha');
    const onB = await session('beta');
    expect(onA).toMatchObject({ host: TEST_HOST_ID, workspacePath: join(dataDirs.a, 'worktrees', 'alpha', onA.id) });
    expect(onB).toMatchObject({ host: HOST_B, workspacePath: join(dataDirs.b, 'worktrees', 'beta', onB.id) });
    expect(currentBranch(onA.workspacePath)).toBe(`ao/${onA.id}/root`);
    expect(currentBranch(onB.workspacePath)).toBe(`ao/${onB.id}/root`);
    expect(hasBranch(checkouts.b.path, `ao/${onB.id}/root`)).toBe(true);
    expect(hasBranch(checkouts.a.path, `ao/${onB.id}/root`)).toBe(false);

    const claims = [
      { s: onA, ...(await accept(onA.id)) },
      { s: onB, ...(await accept(onB.id)) },
    ];
    for (const { s, jobId, pr } of claims) {
      const done = await stack.waitForJob(jobId);
      expect(done).toMatchObject({ state: 'succeeded', result: { branchChanged: true, branch: `feature/${pr}` } });
      expect(currentBranch(s.workspacePath)).toBe(`feature/${pr}`);
    }

    for (const s of [onA, onB]) expect((await stack.http('DELETE', `/api/v1/sessions/${s.id}`)).status).toBe(204);
    expect(existsSync(onA.workspacePath)).toBe(false);
    expect(existsSync(onB.workspacePath)).toBe(false);
    expect(hasBranch(checkouts.b.path, `ao/${onB.id}/root`)).toBe(false);
    expect(await sessionExists(onB.id)).toBe(false);
  });

  it('work for a host without a live worker waits: its claims stay queued, a session there answers HOST_UNAVAILABLE and leaves nothing', async () => {
    const onB = await session('beta');
    await stopWorker('b');
    // a SIGKILLed worker leaves its heartbeat to go stale
    await stack.db.sql`update ao.host_workers set last_seen_at = now() - interval '1 hour' where host = ${HOST_B}`;
    try {
      const [{ count: before }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.sessions where project_id = 'beta'`;
      const refused = await stack.http<{ code: string; details: Record<string, unknown> }>('POST', '/api/v1/sessions', { projectId: 'beta' });
      expect(refused).toMatchObject({
        status: 503,
        body: { code: 'HOST_UNAVAILABLE', details: { host: HOST_B, op: 'create-worktree', withdrawn: true, liveWorker: false } },
      });
      const [{ count: after }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.sessions where project_id = 'beta'`;
      expect(after).toBe(before);
      expect((await stack.http('DELETE', `/api/v1/sessions/${onB.id}`)).body).toMatchObject({ code: 'HOST_UNAVAILABLE' });
      expect(existsSync(onB.workspacePath)).toBe(true);
      // (after the two refusals above have each waited 1.5 s: past the API's 2 s liveness cache)
      const { jobId, pr } = await accept(onB.id);
      // host A's worker never takes host B's claim, and the claim says what it waits for
      expect((await stack.http<Job>('GET', `/api/v1/jobs/${jobId}`)).body).toMatchObject({
        state: 'queued',
        step: `waiting for a worker of host ${HOST_B} (none is running)`,
      });

      await startWorker('b');
      expect(await stack.waitForJob(jobId)).toMatchObject({ state: 'succeeded', result: { branch: `feature/${pr}` } });
      expect((await stack.http('DELETE', `/api/v1/sessions/${onB.id}`)).status).toBe(204);
      expect(existsSync(onB.workspacePath)).toBe(false);
    } finally {
      if (!workers.b) await startWorker('b');
    }
  });

  it("cleans an expired provisional session of host B with host B's worker, never host A's, while only host A's API is up", async () => {
    const onB = await session('beta', { provisional: true });
    const onA = await session('alpha', { provisional: true });
    await stopWorker('b');
    try {
      await stack.db.sql`update ao.sessions set lease_expires_at = now() - interval '1 minute' where id in ${stack.db.sql([onA.id, onB.id])}`;
      // host A's janitor has run (it removed A's own expired session); B's session and worktree stay
      await expect.poll(() => sessionExists(onA.id), { timeout: 10_000 }).toBe(false);
      expect(existsSync(onA.workspacePath)).toBe(false);
      expect(await sessionExists(onB.id)).toBe(true);
      expect(existsSync(onB.workspacePath)).toBe(true);

      await startWorker('b');
      await expect.poll(() => sessionExists(onB.id), { timeout: 10_000 }).toBe(false);
      expect(existsSync(onB.workspacePath)).toBe(false);
      expect(hasBranch(checkouts.b.path, `ao/${onB.id}/root`)).toBe(false);
    } finally {
      if (!workers.b) await startWorker('b');
    }
  });
});
