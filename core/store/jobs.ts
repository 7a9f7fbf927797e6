import { randomUUID } from 'node:crypto';
import { jsonb, type Db } from '../db/connect.js';
import { Job, type JobKind, type JobState } from '../domain.js';
import { AoError, type ErrorBody } from '../errors.js';

/** Job ids are BullMQ job ids too: no ':' and never all digits. */
export function newJobId(): string {
  return `job_${randomUUID().replaceAll('-', '')}`;
}

export interface NewJob {
  kind: JobKind;
  sessionId: string | null;
  projectId: string | null;
  request: unknown;
  idempotency: { scope: string; key: string; requestHash: string } | null;
}

export interface CreatedJob {
  job: Job;
  /** false when an earlier request with the same idempotency key made the job */
  created: boolean;
}

/**
 * Inserts a queued job, or returns the job an earlier request with the same idempotency key
 * made. The same key with a different request is IDEMPOTENCY_KEY_REUSED and writes nothing.
 */
export async function createJob(db: Db, job: NewJob): Promise<CreatedJob> {
  const [row] = await db<[{ reply: { job: unknown; created: boolean; conflict: boolean } }]>`
    select ao.create_job(${newJobId()}, ${job.kind}, ${job.sessionId}, ${job.projectId},
      ${jsonb(db, job.request)}, ${job.idempotency?.scope ?? null},
      ${job.idempotency?.key ?? null}, ${job.idempotency?.requestHash ?? null}) as reply`;
  const parsed = Job.parse(row.reply.job);
  if (row.reply.conflict) {
    throw new AoError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was already used with a different request; use a new key for a new request',
      { jobId: parsed.id },
    );
  }
  return { job: parsed, created: row.reply.created };
}

/**
 * A job as GET /api/v1/jobs/{id} answers it, still as JSON text. A succeeded claim's answer
 * carries every PR its session owns (SPEC §3.5); the API sends the text Postgres assembled from
 * each PR's stored document as it is, so a session with a thousand PRs costs a copy, not a parse
 * and a re-serialisation of a megabyte per read.
 */
export interface JobAnswer {
  id: string;
  state: JobState;
  json: string;
}

export async function getJobAnswer(db: Db, id: string): Promise<JobAnswer | null> {
  const [row] = await db<[{ state: JobState; json: string }?]>`
    select j.state, ao.job_answer_text(j) as json from ao.jobs j where j.id = ${id}`;
  return row ? { id, state: row.state, json: row.json } : null;
}

export async function requireJobAnswer(db: Db, id: string): Promise<JobAnswer> {
  const answer = await getJobAnswer(db, id);
  if (!answer) throw jobNotFound(id);
  return answer;
}

export async function getJob(db: Db, id: string): Promise<Job | null> {
  const answer = await getJobAnswer(db, id);
  return answer ? Job.parse(JSON.parse(answer.json)) : null;
}

export async function requireJob(db: Db, id: string): Promise<Job> {
  const job = await getJob(db, id);
  if (!job) throw jobNotFound(id);
  return job;
}

export function jobNotFound(id: string): AoError {
  return new AoError('JOB_NOT_FOUND', `job ${id} does not exist`, { jobId: id });
}

export interface JobRun {
  jobId: string;
  /** the run's fence: every write of this run names it */
  run: number;
  /** running: the claim is (re)tried; compensating: a spawn_claim's session is being removed */
  state: 'running' | 'compensating';
  kind: JobKind;
  request: unknown;
  sessionId: string | null;
  /** the job's error so far (a compensating job keeps the claim's error) */
  error: ErrorBody | null;
  /** attempts at the claim itself, this one included */
  attempts: number;
  /** when the run started, by the database's clock (snapshots are ordered by it) */
  startedAt: string;
}

export type StartOutcome =
  | ({ outcome: 'run' } & JobRun)
  | { outcome: 'busy' | 'finished' | 'missing' };

export interface RunLimits {
  leaseMs: number;
  /** runs that may die holding the lease before the job ends JOB_STALLED */
  maxLostRuns: number;
}

/**
 * Starts a run of a job: a new fence and a lease, or nothing to do (another run holds a live
 * lease; the job is finished; the job row never committed). A job whose previous run died
 * resumes where it was: running is tried again, compensating finishes its compensation.
 */
export async function startJobRun(db: Db, id: string, limits: RunLimits, step: string): Promise<StartOutcome> {
  const [row] = await db<[{ reply: Record<string, unknown> & { outcome: string } }]>`
    select ao.start_job_run(${id}, ${Math.round(limits.leaseMs)}::integer, ${limits.maxLostRuns}::integer, ${step}) as reply`;
  const reply = row.reply;
  if (reply.outcome !== 'run') return { outcome: reply.outcome as 'busy' | 'finished' | 'missing' };
  return {
    outcome: 'run',
    jobId: id,
    run: Number(reply.run),
    state: reply.state as JobRun['state'],
    kind: reply.kind as JobKind,
    request: reply.request,
    sessionId: (reply.sessionId as string | null) ?? null,
    error: (reply.error as ErrorBody | null) ?? null,
    attempts: Number(reply.attempts),
    startedAt: String(reply.startedAt),
  };
}

/** Renews the run's lease; false when the run lost its fence and must stop. */
export async function renewJobLease(db: Db, run: JobRun, leaseMs: number): Promise<boolean> {
  const [row] = await db<[{ ok: boolean }]>`
    select ao.renew_job_lease(${run.jobId}, ${run.run}::integer, ${Math.round(leaseMs)}::integer) as ok`;
  return row.ok;
}

/**
 * Back to queued between attempts (retry backoff, rate-limit wait, a worker shutting down),
 * saying why in `step`; `refund`: the attempt does not count. False: the fence was lost.
 */
export async function requeueJobRun(db: Db, run: JobRun, step: string, lastError: ErrorBody | null, refund = false): Promise<boolean> {
  const [row] = await db<[{ ok: boolean }]>`
    select ao.requeue_job_run(${run.jobId}, ${run.run}::integer, ${step},
      ${lastError ? jsonb(db, lastError) : null}, ${refund}) as ok`;
  return row.ok;
}

export async function failJobRun(db: Db, run: JobRun, error: ErrorBody): Promise<boolean> {
  const [row] = await db<[{ ok: boolean }]>`
    select ao.fail_job_run(${run.jobId}, ${run.run}::integer, ${jsonb(db, error)}) as ok`;
  return row.ok;
}

/** A spawn_claim whose claim failed: the error is final, the spawned session is being removed. */
export async function beginJobCompensation(db: Db, run: JobRun, error: ErrorBody): Promise<boolean> {
  const [row] = await db<[{ ok: boolean }]>`
    select ao.begin_job_compensation(${run.jobId}, ${run.run}::integer, ${jsonb(db, error)},
      'removing the spawned session') as ok`;
  return row.ok;
}

/** compensated: the spawned session is gone; compensation_failed: it is left, findable. */
export async function finishJobCompensation(db: Db, run: JobRun, error: ErrorBody): Promise<boolean> {
  const failed = error.details?.compensationError !== undefined;
  const [row] = await db<[{ ok: boolean }]>`
    select ao.finish_job_compensation(${run.jobId}, ${run.run}::integer, ${failed}, ${jsonb(db, error)}) as ok`;
  return row.ok;
}

/**
 * The sweeper's input: queued jobs nobody touched for `staleSeconds` (BullMQ may have lost them,
 * or the API could not hand them over), and owned jobs whose run's lease ran out — of one host:
 * the sessions whose worktrees are on it.
 */
export async function listOrphanedJobs(
  db: Db,
  options: { hostId: string; staleSeconds: number; limit: number },
): Promise<Array<{ id: string; kind: JobKind; state: JobState }>> {
  return db<Array<{ id: string; kind: JobKind; state: JobState }>>`
    select j.id, j.kind, j.state from ao.jobs j
    left join ao.sessions s on s.id = j.session_id
    -- a job whose session is gone runs anywhere (and fails at once): it must not stay queued
    -- a batch's items are its run's ledger, never queued work of their own
    where j.state in ('queued', 'running', 'compensating') and j.kind <> 'reclaim_item'
      and (s.host = ${options.hostId} or s.id is null or j.kind = 'reclaim_batch')
      and case when j.state = 'queued' then j.updated_at < now() - make_interval(secs => ${options.staleSeconds})
               else j.lease_expires_at < clock_timestamp() end
    order by j.created_at
    limit ${options.limit}`;
}

/**
 * Cancels a queued or running job (a run in flight is fenced out and writes nothing).
 * JOB_FINISHED for a finished job, and for one that is compensating (its claim already failed;
 * the removal of its session must finish).
 */
export async function cancelJob(db: Db, id: string): Promise<Job> {
  const [row] = await db<[{ reply: { outcome: string; state?: string } }]>`select ao.cancel_job(${id}) as reply`;
  const { outcome, state } = row.reply;
  if (outcome === 'missing') throw new AoError('JOB_NOT_FOUND', `job ${id} does not exist`, { jobId: id });
  if (outcome === 'compensating') {
    throw new AoError('JOB_FINISHED', `job ${id} cannot be cancelled: its claim failed and the spawned session is being removed`, {
      jobId: id,
      state: 'compensating',
    });
  }
  if (outcome === 'finished') throw new AoError('JOB_FINISHED', `job ${id} already finished (${state ?? ''})`, { jobId: id, state });
  return requireJob(db, id);
}

/** Says why a queued job is not moving (e.g. its host has no live worker); a job that has moved on keeps its own step. */
export async function setQueuedJobStep(db: Db, id: string, step: string): Promise<void> {
  await db`update ao.jobs set step = ${step}, updated_at = now() where id = ${id} and state = 'queued' and step is distinct from ${step}`;
}

/** Whether a scheduled refresh (a batch over live sessions' PRs) is still queued or running. */
export async function hasUnfinishedRefresh(db: Db): Promise<boolean> {
  const [row] = await db<[{ busy: boolean }]>`
    select exists (
      select 1 from ao.jobs
      where kind = 'reclaim_batch' and state in ('queued', 'running') and request -> 'selector' ? 'live'
    ) as busy`;
  return row.busy;
}
