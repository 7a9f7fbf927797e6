import { randomUUID } from 'node:crypto';
import { jsonb, type Db } from '../db/connect.js';
import { Job, type JobKind } from '../domain.js';
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

export async function getJob(db: Db, id: string): Promise<Job | null> {
  const [row] = await db<[{ json: unknown }?]>`select ao.job_json(j) as json from ao.jobs j where j.id = ${id}`;
  return row ? Job.parse(row.json) : null;
}

export async function requireJob(db: Db, id: string): Promise<Job> {
  const job = await getJob(db, id);
  if (!job) throw new AoError('JOB_NOT_FOUND', `job ${id} does not exist`, { jobId: id });
  return job;
}

/**
 * A worker starts (or restarts) a job: running, with its attempt number and current step.
 * Returns null when there is nothing to do: the job is gone or already finished (a duplicate
 * delivery after success, or a re-enqueue by the sweeper that raced the worker).
 */
export async function startJob(
  db: Db,
  id: string,
  attempt: number,
  step: string,
): Promise<{ kind: JobKind; request: unknown; sessionId: string | null } | null> {
  const [row] = await db<[{ kind: JobKind; request: unknown; session_id: string | null }?]>`
    update ao.jobs set state = 'running', attempts = ${attempt}, step = ${step}, updated_at = now()
    where id = ${id} and state in ('queued', 'running')
    returning kind, request, session_id`;
  return row ? { kind: row.kind, request: row.request, sessionId: row.session_id } : null;
}

/** A spawn_claim whose claim failed: the error is final, the spawned session is being removed. */
export async function beginCompensation(db: Db, id: string, error: ErrorBody): Promise<void> {
  await db`
    update ao.jobs set state = 'compensating', step = 'removing the spawned session', error = ${jsonb(db, error)},
      updated_at = now()
    where id = ${id} and state in ('queued', 'running')`;
}

/** compensated: the spawned session is gone; compensation_failed: it is left, findable. */
export async function finishCompensation(db: Db, id: string, error: ErrorBody): Promise<void> {
  const failed = error.details?.compensationError !== undefined;
  await db`
    update ao.jobs set state = ${failed ? 'compensation_failed' : 'compensated'}, step = null,
      error = ${jsonb(db, error)}, finished_at = now(), updated_at = now()
    where id = ${id} and state = 'compensating'`;
}

/** Back to queued between attempts (retry backoff, rate-limit wait), saying why in `step`. */
export async function requeueJob(db: Db, id: string, step: string, lastError: ErrorBody | null): Promise<void> {
  await db`
    update ao.jobs set state = 'queued', step = ${step},
      error = ${lastError ? jsonb(db, lastError) : null}, updated_at = now()
    where id = ${id} and state in ('queued', 'running')`;
}

export async function failJob(db: Db, id: string, error: ErrorBody): Promise<void> {
  await db`
    update ao.jobs set state = 'failed', step = null,
      error = ${jsonb(db, error)}, finished_at = now(), updated_at = now()
    where id = ${id} and state in ('queued', 'running')`;
}

/** Removes a job that could not be handed to the queue, so its idempotency key can be used again. */
export async function deleteQueuedJob(db: Db, id: string): Promise<void> {
  await db`delete from ao.jobs where id = ${id} and state = 'queued'`;
}

/** Jobs Postgres says are unfinished and that nobody touched for `staleSeconds` (sweeper input). */
export async function listStaleUnfinishedJobs(
  db: Db,
  options: { staleSeconds: number; limit: number },
): Promise<Array<{ id: string; kind: JobKind; state: 'queued' | 'running' }>> {
  return db<Array<{ id: string; kind: JobKind; state: 'queued' | 'running' }>>`
    select id, kind, state from ao.jobs
    where state in ('queued', 'running') and updated_at < now() - make_interval(secs => ${options.staleSeconds})
    order by created_at
    limit ${options.limit}`;
}
