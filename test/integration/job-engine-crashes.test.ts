import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../api/server.js';
import type { Job, Session } from '../../core/domain.js';
import { freePort } from '../../core/services.js';
import { createJob } from '../../core/store/jobs.js';
import { readEvents, START, type ChangeEvent } from '../../core/store/read-events.js';
import { spawnSupportProcess, spawnWorkerProcess } from '../support/child.js';
import { makeGitGate, type GitGate } from '../support/git-gate.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';
import { TEST_HOST_ID } from '../support/fixtures.js';
import { testQueueBackend, queueEnv } from '../support/env.js';

/**
 * The job state machine under real crashes: for each state a job can be in, the process that
 * owns it is killed there, and the job still reaches a terminal state exactly once, with one
 * job_updated per transition. Workers run as processes of their own (test/support/
 * worker-process.ts) so they can be SIGKILLed or SIGSTOPped; git is slowed down by a gate on
 * PATH (test/support/git-gate.ts) to kill a process in the middle of its git work.
 */

const LOCK_MS = 1500;
let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let gate: GitGate;
let number = 1;

beforeAll(async () => {
  stack = await startStack({ worker: false });
  checkout = await makeCheckout();
  gate = await makeGitGate();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
  await gate.remove();
});

async function session(body: Record<string, unknown> = {}): Promise<Session> {
  const reply = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets', ...body });
  expect(reply.status).toBe(201);
  return reply.body;
}

function addPr(extra: Record<string, unknown> = {}): number {
  const n = number++;
  stack.github.addPullRequest('Acme', 'Widgets', { number: n, rollupState: 'SUCCESS', ...extra });
  return n;
}

async function accept(sessionId: string, pr: number | string, headers: Record<string, string> = {}): Promise<string> {
  const reply = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, { pr: String(pr) }, headers);
  expect(reply.status).toBe(202);
  return reply.body.jobId;
}

async function eventsOf(jobId: string): Promise<ChangeEvent[]> {
  const { events } = await readEvents(stack.db.sql, { after: START, limit: 1000 });
  return events.filter((e) => e.entity === 'job' && e.key === jobId);
}

/** the job's states as its job_updated events show them, in order */
async function transitions(jobId: string): Promise<string[]> {
  return (await eventsOf(jobId)).filter((e) => e.type === 'job_updated' && e.before && 'state' in e.before).map((e) => String(e.after?.state));
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function withWorker<T>(work: () => Promise<T>): Promise<T> {
  await stack.startWorker({ lockDurationMs: LOCK_MS, sweep: { intervalMs: 200, staleSeconds: 1 } });
  try {
    return await work();
  } finally {
    await stack.stopWorker();
  }
}

describe('a job in each state survives the death of its owner', () => {
  it('queued: a job committed but never handed to the queue (the API died) is enqueued by the sweeper and runs once', async () => {
    const s = await session();
    const pr = addPr();
    const { job } = await createJob(stack.db.sql, {
      kind: 'claim',
      sessionId: s.id,
      projectId: 'widgets',
      request: { pr: { owner: 'Acme', repo: 'Widgets', number: pr, url: `https://github.com/Acme/Widgets/pull/${pr}` }, allowTakeover: true },
      idempotency: null,
    });
    const done = await withWorker(() => stack.waitForJob(job.id));
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(await transitions(job.id)).toEqual(['running', 'succeeded']);
  });

  it('running: a worker SIGKILLed inside the GitHub call; the next run finishes the claim, succeeded exactly once', async () => {
    const s = await session();
    const pr = addPr();
    const worker = spawnWorkerProcess(stack, { LOCK_MS: String(LOCK_MS) });
    await worker.ready;
    const held = stack.github.holdRequests();
    const before = stack.github.stats.requests;
    const jobId = await accept(s.id, pr);
    await stack.github.waitForRequests(before + 1);
    await worker.kill();
    held.release();

    const job = await withWorker(() => stack.waitForJob(jobId));
    expect(job).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(await transitions(jobId)).toEqual(['running', 'succeeded']);
  });

  it('running, in the checkout: a worker SIGKILLed after `git switch` and before the claim transaction; the next run finishes the claim on the PR branch', async () => {
    const s = await session();
    const pr = addPr();
    const worker = spawnWorkerProcess(stack, { LOCK_MS: String(LOCK_MS), PATH: gate.path });
    await worker.ready;
    await gate.pauseAfter('switch');
    const jobId = await accept(s.id, pr);
    await gate.paused('switch');
    await worker.kill();
    await gate.release('switch');

    const job = await withWorker(() => stack.waitForJob(jobId));
    expect(job).toMatchObject({ state: 'succeeded', attempts: 2, result: { branch: `feature/${pr}`, branchChanged: true } });
    expect(await transitions(jobId)).toEqual(['running', 'succeeded']);
    expect(execFileSync('git', ['branch', '--show-current'], { cwd: s.workspacePath }).toString().trim()).toBe(`feature/${pr}`);
  });

  it('compensating: a worker SIGKILLed while removing the spawned worktree; the next run resumes and ends compensated (defect 1), and no transaction was held across git meanwhile (defect 6)', async () => {
    const s = await session({ provisional: true });
    const worker = spawnWorkerProcess(stack, { LOCK_MS: String(LOCK_MS), PATH: gate.path });
    await worker.ready;
    await gate.hold('remove');
    const jobId = await accept(s.id, 424242); // no such PR: the claim fails and compensation starts
    await gate.reached('remove');

    // while the worker is inside git, what others commit is readable at once
    const cursor = (await stack.http<{ nextCursor: string }>('GET', '/api/v1/events?limit=1000')).body.nextCursor;
    const other = await session();
    await until('the other session to be readable', async () => {
      const { body } = await stack.http<{ events: ChangeEvent[] }>('GET', `/api/v1/events?after=${cursor}&limit=1000`);
      return body.events.some((e) => e.type === 'session_created' && e.key === other.id);
    }, 5000);
    const [{ count: openXids }] = await stack.db.sql<[{ count: number }]>`
      select count(*)::int from pg_stat_activity
      where datname = current_database() and application_name = 'ao-test-worker' and backend_xid is not null`;
    expect(openXids).toBe(0);

    await worker.kill();
    const job = await withWorker(() => stack.waitForJob(jobId));
    expect(job).toMatchObject({ state: 'compensated', error: { code: 'PR_NOT_FOUND', details: { sessionId: s.id, sessionRemoved: true } } });
    expect(await transitions(jobId)).toEqual(['running', 'compensating', 'compensated']);
    expect(existsSync(s.workspacePath)).toBe(false);
    expect(execFileSync('git', ['branch', '--list', s.branch], { cwd: checkout.path }).toString().trim()).toBe('');
    const [{ count }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.sessions where id = ${s.id}`;
    expect(count).toBe(0);
  });

  it('two runs overlap: the fast one fails the job, the slow one (stopped inside its claim transaction) writes nothing — no failed→succeeded flip (defect 2)', async () => {
    const s = await session();
    const pr = addPr();
    const url = `https://github.com/acme/widgets/pull/${pr}`;
    // hold the PR's lock from another connection: the first run's claim transaction will wait on it
    const locker = postgres(stack.db.url, { max: 1, onnotice: () => {} });
    const lock = await locker.reserve();
    await lock`select pg_advisory_lock(hashtextextended(${url}, 0))`;
    const slow = spawnWorkerProcess(stack, { LOCK_MS: String(LOCK_MS) });
    try {
      await slow.ready;
      const jobId = await accept(s.id, pr);
      await until('the first run to wait inside ao.claim_pr', async () => {
        const rows = await stack.db.sql`
          select 1 from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%claim_pr%'`;
        return rows.length > 0;
      });
      slow.child.kill('SIGSTOP'); // its lease and BullMQ lock run out; its statement keeps waiting
      stack.github.failNext(1, 401); // the second run fails at once (SCM_AUTH_FAILED, not retried)
      const failed = await withWorker(() => stack.waitForJob(jobId));
      expect(failed).toMatchObject({ state: 'failed', error: { code: 'SCM_AUTH_FAILED' } });

      await lock`select pg_advisory_unlock(hashtextextended(${url}, 0))`;
      await until('the first run’s claim statement to finish', async () => {
        const rows = await stack.db.sql`
          select 1 from pg_stat_activity
          where datname = current_database() and state = 'active' and query like '%claim_pr%' and pid <> pg_backend_pid()`;
        return rows.length === 0;
      });
      expect((await stack.http<Job>('GET', `/api/v1/jobs/${jobId}`)).body.state).toBe('failed');
      expect(await transitions(jobId)).toEqual(['running', 'failed']);
      const [{ count }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.pull_requests where url = ${url}`;
      expect(count).toBe(0);
    } finally {
      slow.child.kill('SIGCONT');
      await slow.kill();
      lock.release();
      await locker.end();
    }
  });
});

describe('202 means durable', () => {
  it.runIf(testQueueBackend() === 'redis')('answers 202 for a claim whose hand-off to Redis times out, never deletes it, and the job runs (defect 3)', async () => {
    const port = await freePort();
    const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    const url = `redis://127.0.0.1:${port}`;
    const admin = new Redis(url, { retryStrategy: (n) => (n > 50 ? null : 50) });
    admin.on('error', () => {});
    await admin.ping();
    const queue = { backend: 'redis' as const, redisUrl: url, prefix: stack.queue.prefix };
    const api = await startApiServer({ db: stack.db.sql, queue, hostId: TEST_HOST_ID, apiToken: null, host: '127.0.0.1', port: 0 });
    try {
      const s = await session();
      const pr = addPr();
      await admin.call('CLIENT', 'PAUSE', '5000', 'WRITE'); // Redis answers, but takes no job
      const post = () =>
        fetch(`${api.url}/api/v1/sessions/${s.id}/pr/claim`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'k-defect-3' },
          body: JSON.stringify({ pr: String(pr) }),
        });
      const first = post();
      const [a, b] = await Promise.all([first, post()]);
      expect([a.status, b.status]).toEqual([202, 202]);
      const jobA = ((await a.json()) as { jobId: string }).jobId;
      const jobB = ((await b.json()) as { jobId: string }).jobId;
      expect(jobB).toBe(jobA);
      expect((await stack.http('GET', `/api/v1/jobs/${jobA}`)).status).toBe(200);
      await admin.call('CLIENT', 'UNPAUSE');

      await stack.startWorker({ lockDurationMs: LOCK_MS, sweep: { intervalMs: 200, staleSeconds: 1 } });
      // this worker listens on the stack's Redis; the job went to the paused one, or nowhere:
      // only the sweeper can bring it over, which is the point
      try {
        const job = await stack.waitForJob(jobA);
        expect(job.state).toBe('succeeded');
        expect(await transitions(jobA)).toEqual(['running', 'succeeded']);
      } finally {
        await stack.stopWorker();
      }
    } finally {
      await api.close();
      admin.disconnect();
      redisServer.kill('SIGKILL');
      await once(redisServer, 'exit');
    }
  });
});

describe('ordering by the database, not by a worker clock', () => {
  it('a worker whose clock is 10 minutes fast does not make later, correct snapshots look older (defect 5)', async () => {
    const s1 = await session();
    const s2 = await session();
    const pr = addPr({ title: 'first title' });
    const fast = spawnWorkerProcess(stack, { LOCK_MS: String(LOCK_MS), AO_TEST_CLOCK_SKEW_MS: String(10 * 60_000) });
    try {
      await fast.ready;
      expect((await stack.waitForJob(await accept(s1.id, pr))).state).toBe('succeeded');
    } finally {
      await fast.kill('SIGTERM');
    }
    stack.github.updatePullRequest('Acme', 'Widgets', pr, { title: 'second title', rollupState: 'FAILURE' });

    const job = await withWorker(async () => stack.waitForJob(await accept(s2.id, pr)));

    expect(job.state).toBe('succeeded');
    const [row] = await stack.db.sql<[{ session_id: string; title: string; ci: string }]>`
      select session_id, title, ci from ao.pull_requests where number = ${pr}`;
    expect(row).toEqual({ session_id: s2.id, title: 'second title', ci: 'failing' });
  });
});

describe('no orphan from a session creation that dies half-way', () => {
  it('a worker SIGKILLed after `git worktree add` and before the session is activated: the API answers HOST_UNAVAILABLE, and the janitor removes the session whole (defect 7)', async () => {
    const api = spawnSupportProcess('api-process.ts', {
      DATABASE_URL: stack.db.url,
      ...queueEnv(stack.queue),
      AO_HOST_ID: TEST_HOST_ID,
      LEASE_SECONDS: '1',
      HOST_WAIT_MS: '1500',
    });
    // the git work must happen in the process this test kills
    await stack.stopHostWorker();
    const worker = spawnWorkerProcess(stack, { LOCK_MS: String(LOCK_MS), PATH: gate.path });
    try {
      const apiUrl = await api.ready;
      await worker.ready;
      await gate.hold('add');
      const creating = fetch(`${apiUrl}/api/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ projectId: 'widgets' }),
      });
      await gate.reached('add');
      await worker.kill();
      const answer = await creating;
      expect(answer.status).toBe(503);
      expect(await answer.json()).toMatchObject({ code: 'HOST_UNAVAILABLE', details: { host: TEST_HOST_ID, op: 'create-worktree' } });

      const [row] = await stack.db.sql<[{ id: string; workspace_path: string; branch: string; state: string }]>`
        select id, workspace_path, branch, state from ao.sessions order by created_at desc limit 1`;
      expect(row.state).toBe('provisional');
      expect(existsSync(join(row.workspace_path, '.git'))).toBe(true); // git made it; nobody activated it
      await until('the lease to run out', async () => {
        const [r] = await stack.db.sql<[{ over: boolean }]>`select lease_expires_at < now() as over from ao.sessions where id = ${row.id}`;
        return r?.over;
      });
      await withWorker(() => stack.worker().cleanNow());
      expect(existsSync(row.workspace_path)).toBe(false);
      expect(execFileSync('git', ['branch', '--list', row.branch], { cwd: checkout.path }).toString().trim()).toBe('');
      const [{ count }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.sessions where id = ${row.id}`;
      expect(count).toBe(0);
    } finally {
      await worker.kill();
      await api.kill();
      await stack.startHostWorker();
    }
  });
});
