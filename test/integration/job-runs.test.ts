import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobKind } from '../../core/domain.js';
import { claimPr, FenceLost } from '../../core/store/claim-pr.js';
import {
  beginJobCompensation,
  cancelJob,
  failJobRun,
  finishJobCompensation,
  getJob,
  renewJobLease,
  requeueJobRun,
  startJobRun,
  type JobRun,
  type RunLimits,
} from '../../core/store/jobs.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { allEvents, eventsSince, seedProject, seedSession, snapshot } from '../support/fixtures.js';

/**
 * The job state machine at the store: fenced runs, leases, and the transitions each state
 * allows (migrations 000003, ao.start_job_run and the fenced writes). Process-level crashes are
 * in job-engine-crashes.test.ts.
 */

let db: TestDatabase;
let projectId: string;
let n = 0;
const LONG: RunLimits = { leaseMs: 60_000, maxLostRuns: 3 };
const SHORT: RunLimits = { leaseMs: 150, maxLostRuns: 3 };
const error = { code: 'PR_NOT_FOUND' as const, message: 'gone', details: null };

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  projectId = await seedProject(db.sql, `runs${++n}`);
});

async function newJob(kind: JobKind = 'claim', sessionId: string | null = null): Promise<string> {
  const id = `job_runs_${n}_${Math.random().toString(36).slice(2)}`;
  await db.sql`insert into ao.jobs (id, kind, session_id, project_id, request) values (${id}, ${kind}, ${sessionId}, ${projectId}, '{}')`;
  return id;
}

async function start(id: string, limits = LONG): Promise<JobRun> {
  const started = await startJobRun(db.sql, id, limits, 'fetching the PR from GitHub');
  if (started.outcome !== 'run') throw new Error(`start ${id}: ${started.outcome}`);
  return started;
}

/** polls the database (its clock decides) until the lease of `id` has run out */
async function leaseOver(id: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const [row] = await db.sql<[{ over: boolean }]>`select lease_expires_at < clock_timestamp() as over from ao.jobs where id = ${id}`;
    if (row.over) return;
    if (Date.now() > deadline) throw new Error(`lease of ${id} did not run out`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function jobStates(id: string, since: Awaited<ReturnType<typeof allEvents>>): Promise<string[]> {
  return (await eventsSince(db.sql, since))
    .filter((e) => e.type === 'job_updated' && e.key === id)
    .map((e) => String(e.after?.state));
}

describe('job runs: fences and leases', () => {
  it('starts a queued job as run 1 with a lease; a second delivery while the lease lives is busy and writes nothing', async () => {
    const id = await newJob();
    const before = await allEvents(db.sql);
    const run = await start(id);
    expect(run).toMatchObject({ run: 1, state: 'running', attempts: 1 });
    expect(await startJobRun(db.sql, id, LONG, 'again')).toEqual({ outcome: 'busy' });
    expect(await jobStates(id, before)).toEqual(['running']);
  });

  it('answers missing for a queue entry whose job row never committed', async () => {
    expect(await startJobRun(db.sql, 'job_never_committed', LONG, 'x')).toEqual({ outcome: 'missing' });
  });

  it('takes over a running job whose lease ran out; the earlier run is fenced out of every write', async () => {
    const id = await newJob();
    const first = await start(id, SHORT);
    await leaseOver(id);
    const second = await start(id, LONG);
    expect(second).toMatchObject({ run: 2, state: 'running', attempts: 2 });

    expect(await renewJobLease(db.sql, first, 60_000)).toBe(false);
    expect(await requeueJobRun(db.sql, first, 'retry', null)).toBe(false);
    expect(await failJobRun(db.sql, first, error)).toBe(false);
    expect(await beginJobCompensation(db.sql, first, error)).toBe(false);
    expect(await finishJobCompensation(db.sql, first, error)).toBe(false);
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'running', error: null });
    expect(await renewJobLease(db.sql, second, 60_000)).toBe(true);
  });

  it('never flips a failed job to succeeded: the slow run whose fence was taken writes nothing (defect 2)', async () => {
    const session = await seedSession(db.sql, projectId);
    const id = await newJob('claim', session.id);
    const before = await allEvents(db.sql);
    const slow = await start(id, SHORT); // its worker stalls inside the GitHub call…
    await leaseOver(id);
    const fast = await start(id, LONG); // …another run takes the job over and finds the PR merged
    expect(await failJobRun(db.sql, fast, { code: 'PR_NOT_OPEN', message: 'merged', details: null })).toBe(true);

    const late = await claimPr(db.sql, { run: slow, sessionId: session.id, allowTakeover: true, snapshot: snapshot({ number: 7001 }) }).catch(
      (e: unknown) => e,
    );

    expect(late).toBeInstanceOf(FenceLost);
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'failed', error: { code: 'PR_NOT_OPEN' } });
    const [{ count }] = await db.sql<[{ count: number }]>`select count(*)::int from ao.pull_requests where number = 7001`;
    expect(count).toBe(0);
    expect(await jobStates(id, before)).toEqual(['running', 'running', 'failed']);
  });

  it('requeues between attempts and refunds an attempt that never reached a verdict', async () => {
    const id = await newJob();
    const run = await start(id);
    expect(await requeueJobRun(db.sql, run, 'waiting for the GitHub rate limit', error, true)).toBe(true);
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'queued', attempts: 0, step: 'waiting for the GitHub rate limit' });
    expect(await start(id)).toMatchObject({ run: 2, attempts: 1 });
  });
});

describe('job runs: compensating', () => {
  it('resumes a compensation whose run died, keeping the claim error and the step (defect 1)', async () => {
    const session = await seedSession(db.sql, projectId);
    const id = await newJob('spawn_claim', session.id);
    const before = await allEvents(db.sql);
    const first = await start(id, SHORT);
    expect(await beginJobCompensation(db.sql, first, error)).toBe(true);
    await leaseOver(id); // the worker died while removing the session

    const resumed = await start(id, LONG);
    expect(resumed).toMatchObject({ run: 2, state: 'compensating', error: { code: 'PR_NOT_FOUND' } });
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'compensating', step: 'removing the spawned session', attempts: 1 });
    expect(await finishJobCompensation(db.sql, resumed, { ...error, details: { sessionRemoved: true } })).toBe(true);
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'compensated', finishedAt: expect.any(String) });
    // one job_updated per transition; the resume itself changes nothing visible
    expect(await jobStates(id, before)).toEqual(['running', 'compensating', 'compensated']);
  });

  it('ends compensation_failed when compensation runs keep dying', async () => {
    const session = await seedSession(db.sql, projectId);
    const id = await newJob('spawn_claim', session.id);
    const limits: RunLimits = { leaseMs: 150, maxLostRuns: 1 };
    const first = await start(id, limits);
    await beginJobCompensation(db.sql, first, error);
    await leaseOver(id);
    await start(id, limits); // lost run 1: resumed
    await leaseOver(id);
    expect(await startJobRun(db.sql, id, limits, 'x')).toEqual({ outcome: 'finished' }); // lost run 2: over the bound
    const job = await getJob(db.sql, id);
    expect(job).toMatchObject({ state: 'compensation_failed', error: { code: 'PR_NOT_FOUND' } });
    expect(job?.error?.details?.compensationError).toMatch(/abandoned by 2 runs/);
  });
});

describe('job runs: bounded', () => {
  it('fails a claim with JOB_STALLED once more runs died than allowed, instead of re-running it forever', async () => {
    const id = await newJob();
    const limits: RunLimits = { leaseMs: 150, maxLostRuns: 2 };
    await start(id, limits);
    for (let lost = 1; lost <= 2; lost++) {
      await leaseOver(id);
      expect((await startJobRun(db.sql, id, limits, 'x')).outcome).toBe('run');
    }
    await leaseOver(id);
    expect(await startJobRun(db.sql, id, limits, 'x')).toEqual({ outcome: 'finished' });
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'failed', error: { code: 'JOB_STALLED', details: { lostRuns: 3 } } });
  });

  it('sends a spawn_claim that keeps stalling to compensation, so its session is still removed', async () => {
    const session = await seedSession(db.sql, projectId);
    const id = await newJob('spawn_claim', session.id);
    const limits: RunLimits = { leaseMs: 150, maxLostRuns: 0 };
    await start(id, limits);
    await leaseOver(id);
    const run = await startJobRun(db.sql, id, limits, 'x');
    expect(run).toMatchObject({ outcome: 'run', state: 'compensating', error: { code: 'JOB_STALLED' } });
    expect(await getJob(db.sql, id)).toMatchObject({ state: 'compensating', step: 'removing the spawned session' });
  });
});

describe('job runs: terminal states never change', () => {
  it.each(['succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled'] as const)('%s is final', async (state) => {
    const session = await seedSession(db.sql, projectId);
    const id = await newJob('spawn_claim', session.id);
    const run = await start(id);
    await db.sql`update ao.jobs set state = ${state}, lease_expires_at = null, finished_at = now() where id = ${id}`;
    const before = await allEvents(db.sql);

    expect(await startJobRun(db.sql, id, LONG, 'x')).toEqual({ outcome: 'finished' });
    expect(await renewJobLease(db.sql, run, 60_000)).toBe(false);
    expect(await requeueJobRun(db.sql, run, 'x', null)).toBe(false);
    expect(await failJobRun(db.sql, run, error)).toBe(false);
    expect(await beginJobCompensation(db.sql, run, error)).toBe(false);
    expect(await finishJobCompensation(db.sql, run, error)).toBe(false);
    const claim = await claimPr(db.sql, { run, sessionId: session.id, allowTakeover: true, snapshot: snapshot({ number: 7100 + n }) }).catch(
      (e: unknown) => e,
    );
    expect(claim).toBeInstanceOf(FenceLost);
    expect((await getJob(db.sql, id))?.state).toBe(state);
    expect(await eventsSince(db.sql, before)).toEqual([]);
  });

  it('refuses a lease on a terminal job at the database (a running job always has one, nothing else does)', async () => {
    const id = await newJob();
    await start(id);
    const err = await db.sql`update ao.jobs set state = 'failed' where id = ${id}`.catch((e: unknown) => e);
    expect(String(err)).toMatch(/jobs_lease_iff_owned/);
  });
});

describe('job runs: cancel', () => {
  it('cancels a queued job; a running one too, whose run is then fenced out; a compensating or finished one is JOB_FINISHED', async () => {
    const session = await seedSession(db.sql, projectId);
    const queued = await newJob();
    expect(await cancelJob(db.sql, queued)).toMatchObject({ state: 'cancelled', finishedAt: expect.any(String) });
    expect(await startJobRun(db.sql, queued, LONG, 'x')).toEqual({ outcome: 'finished' });

    const running = await newJob('claim', session.id);
    const run = await start(running);
    expect((await cancelJob(db.sql, running)).state).toBe('cancelled');
    const late = await claimPr(db.sql, { run, sessionId: session.id, allowTakeover: true, snapshot: snapshot({ number: 7200 }) }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(FenceLost);

    const compensating = await newJob('spawn_claim', session.id);
    await beginJobCompensation(db.sql, await start(compensating), error);
    expect(await cancelJob(db.sql, compensating).catch((e: unknown) => e)).toMatchObject({ code: 'JOB_FINISHED' });
    expect(await cancelJob(db.sql, queued).catch((e: unknown) => e)).toMatchObject({ code: 'JOB_FINISHED' });
    expect(await cancelJob(db.sql, 'job_nope').catch((e: unknown) => e)).toMatchObject({ code: 'JOB_NOT_FOUND' });
  });
});
