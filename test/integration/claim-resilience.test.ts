import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../api/server.js';
import type { ClaimResult, Session } from '../../core/domain.js';
import { freePort } from '../../core/services.js';
import { spawnWorkerProcess } from '../support/child.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';
import { TEST_HOST_ID } from '../support/fixtures.js';
import { testQueueBackend, testRedisUrl } from '../support/env.js';

/** Crashes and lost infrastructure: an accepted claim is never lost and never half-written. */

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
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

async function session(): Promise<Session> {
  return (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
}

function addPr(): number {
  const n = number++;
  stack.github.addPullRequest('Acme', 'Widgets', {
    number: n,
    rollupState: 'SUCCESS',
    contexts: [{ kind: 'CheckRun', name: 'build', status: 'COMPLETED', conclusion: 'SUCCESS' }],
    reviewThreads: [{ path: 'a.ts', line: 1, comments: [{ body: 'please fix', author: { login: 'rev' } }] }],
  });
  return n;
}

async function accept(sessionId: string, pr: number): Promise<string> {
  const reply = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, { pr: String(pr) });
  expect(reply.status).toBe(202);
  return reply.body.jobId;
}

async function prIsWhole(pr: number, owner: string): Promise<void> {
  const [row] = await stack.db.sql<[{ session_id: string; checks: number; threads: number; comments: number }?]>`
    select p.session_id,
      (select count(*)::int from ao.pr_checks c where c.pr_url = p.url) as checks,
      (select count(*)::int from ao.pr_review_threads t where t.pr_url = p.url) as threads,
      (select count(*)::int from ao.pr_review_comments m where m.pr_url = p.url) as comments
    from ao.pull_requests p where p.number = ${pr}`;
  expect(row).toEqual({ session_id: owner, checks: 1, threads: 1, comments: 1 });
}

describe('claim resilience', () => {
  it('finishes a claim whose worker was SIGKILLed mid-claim, with whole data', async () => {
    const s = await session();
    const pr = addPr();
    const worker = spawnWorkerProcess(stack, { LOCK_MS: '2000' });
    await worker.ready;
    const gate = stack.github.holdRequests();
    const before = stack.github.stats.requests;
    const jobId = await accept(s.id, pr);
    await stack.github.waitForRequests(before + 1, 10_000); // the worker is inside the GitHub call
    await worker.kill();
    gate.release();

    await stack.startWorker({ lockDurationMs: 2000 });
    try {
      const job = await stack.waitForJob(jobId, 30_000);
      expect(job.state).toBe('succeeded');
      expect(job.attempts).toBeGreaterThanOrEqual(1);
      await prIsWhole(pr, s.id);
    } finally {
      await stack.stopWorker();
    }
  });

  it.runIf(testQueueBackend() === 'postgres')(
    "completes claims after Postgres dropped every connection of the queue backend (BullMQ's LISTEN included) and of the job signals",
    async () => {
      await stack.startWorker();
      try {
        const first = await session();
        const firstPr = addPr();
        expect((await stack.waitForJob(await accept(first.id, firstPr))).state).toBe('succeeded');
        // what a Postgres failover or a proxy's idle cut does: every connection but this test's own
        // admin one ends, BullMQ's blocked LISTEN connections and postgres.js's listener among them
        const dropped = await stack.db.sql<Array<{ pid: number }>>`
          select pg_terminate_backend(pid) as pid from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()
            and (application_name like 'ao-bullmq-%' or query ilike 'listen %')`;
        expect(dropped.length).toBeGreaterThan(0);
        const s = await session();
        const pr = addPr();
        const job = await stack.waitForJob(await accept(s.id, pr), 30_000);
        expect(job.state).toBe('succeeded');
        await prIsWhole(pr, s.id);
      } finally {
        await stack.stopWorker();
      }
    },
  );

  it.runIf(testQueueBackend() === 'redis')('completes a claim whose queue entry Redis lost after the 202', async () => {
    const s = await session();
    const pr = addPr();
    const jobId = await accept(s.id, pr);
    // what a Redis restart without persistence does to this installation's queue
    const redis = new Redis(testRedisUrl());
    const keys = await redis.keys(`${stack.queue.prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();

    await stack.startWorker({ sweep: { intervalMs: 100, staleSeconds: 0 } });
    try {
      const job = await stack.waitForJob(jobId);
      expect(job.state).toBe('succeeded');
      await prIsWhole(pr, s.id);
    } finally {
      await stack.stopWorker();
    }
  });

  it('releases an in-flight claim at graceful shutdown so another worker finishes it', async () => {
    const s = await session();
    const pr = addPr();
    await stack.startWorker();
    const gate = stack.github.holdRequests();
    const before = stack.github.stats.requests;
    const jobId = await accept(s.id, pr);
    await stack.github.waitForRequests(before + 1, 10_000);
    await stack.stopWorker(); // grace 1 s, then the GitHub call is aborted and the job released
    gate.release();
    expect((await stack.http<{ state: string }>('GET', `/api/v1/jobs/${jobId}`)).body.state).toBe('queued');

    await stack.startWorker();
    try {
      const job = await stack.waitForJob(jobId);
      expect(job.state).toBe('succeeded');
      expect((job.result as ClaimResult).prs[0]?.number).toBe(pr);
    } finally {
      await stack.stopWorker();
    }
  });

  it('fails with SCM_AUTH_FAILED at once when GitHub refuses the token', async () => {
    const badToken = await startStack({ githubToken: 'not-the-token' });
    try {
      const repo = await makeCheckout();
      await badToken.http('POST', '/api/v1/projects', { path: repo.path, id: 'widgets' });
      const s = (await badToken.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
      badToken.github.addPullRequest('Acme', 'Widgets', { number: 5 });
      const reply = await badToken.http<{ jobId: string }>('POST', `/api/v1/sessions/${s.id}/pr/claim`, { pr: '5' });
      const job = await badToken.waitForJob(reply.body.jobId);
      expect(job).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'SCM_AUTH_FAILED' } });
      expect(JSON.stringify(job)).not.toContain('not-the-token');
      await repo.remove();
    } finally {
      await badToken.close();
    }
  });

  it.runIf(testQueueBackend() === 'redis')('answers 503 QUEUE_UNAVAILABLE and accepts nothing while Redis is down', async () => {
    const port = await freePort();
    const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    const url = `redis://127.0.0.1:${port}`;
    const probe = new Redis(url, { retryStrategy: (n) => (n > 50 ? null : 50) });
    await probe.ping();
    probe.disconnect();
    const api = await startApiServer({
      db: stack.db.sql,
      queue: { backend: 'redis', redisUrl: url, prefix: stack.queue.prefix },
      hostId: TEST_HOST_ID,
      apiToken: null,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const s = await session();
      redisServer.kill('SIGKILL');
      await once(redisServer, 'exit');
      // 503 is answered only while the API knows the queue is down (before that, a claim is
      // accepted durably and handed over later: see job-engine-crashes.test.ts)
      const deadline = Date.now() + 10_000;
      while ((await fetch(`${api.url}/readyz`)).status !== 503) {
        if (Date.now() > deadline) throw new Error('the API never noticed Redis was gone');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const reply = await fetch(`${api.url}/api/v1/sessions/${s.id}/pr/claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pr: '1' }),
      });
      expect(reply.status).toBe(503);
      expect(await reply.json()).toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
      const [{ count }] = await stack.db.sql<[{ count: number }]>`select count(*)::int as count from ao.jobs where session_id = ${s.id}`;
      expect(count).toBe(0);
      expect((await fetch(`${api.url}/readyz`)).status).toBe(503);
    } finally {
      await api.close();
    }
  });
});
