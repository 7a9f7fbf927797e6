import { Queue, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';

/**
 * The BullMQ side of ao: queue names, job payloads and the Redis connections. Every use of Redis
 * for the job pipeline goes through this module (SPEC §7), so a later backend swap (BullMQ on
 * Postgres) touches one file. Postgres holds the job record; BullMQ carries only `{jobId}` —
 * never a token, never the request.
 */

/**
 * Claims run on the host whose disk holds the session's worktree (the claim checks the PR out
 * there), so each host has its own claim queue, consumed by that host's workers only. A host
 * without a live worker leaves its jobs waiting in its queue; nothing else takes them.
 */
export function claimQueueName(hostId: string): string {
  return `claims-${hostId}`;
}

/**
 * Batch re-claims touch no worktree (a re-claim keeps each PR's owner and moves nothing on disk),
 * so they have one queue for all hosts, which every worker consumes.
 */
export const RECLAIM_QUEUE = 'reclaims';

export function reclaimQueue(settings: QueueSettings, connection: Redis): Queue<ClaimJobData> {
  return new Queue<ClaimJobData>(RECLAIM_QUEUE, { connection, prefix: settings.prefix, defaultJobOptions: claimJobOptions(settings) });
}

/** Hands a batch to the re-claim queue under its Postgres id (a no-op when it is there already). */
export async function enqueueReclaim(queue: Queue<ClaimJobData>, jobId: string): Promise<void> {
  await queue.add('reclaim', { jobId }, { jobId });
}

export const ClaimJobData = z.object({ jobId: z.string().min(1) });
export type ClaimJobData = z.infer<typeof ClaimJobData>;

export interface QueueSettings {
  redisUrl: string;
  /** BullMQ key prefix (AO_QUEUE_PREFIX) */
  prefix: string;
  /** retry schedule override (tests shorten the backoff) */
  retry?: { attempts: number; delayMs: number };
}

/** Retries for transient failures: exponential backoff with jitter (1 s, 2 s, 4 s, … ±50%). */
export const CLAIM_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  // Postgres keeps the record; BullMQ keeps finished jobs a day (failed a week) for the dashboard.
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * For request handlers: fails fast when Redis is down instead of queueing commands in memory,
 * so the API can answer 503 at once.
 */
export function producerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    ...commonOptions,
  });
}

/** For workers and event listeners: blocking commands must wait for Redis to come back. */
export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, ...commonOptions });
}

const commonOptions: RedisOptions = {
  // keep reconnecting with a capped delay; never give up while the process lives
  retryStrategy: (times) => Math.min(200 * times, 2000),
};

export function claimJobOptions(settings: QueueSettings): JobsOptions {
  if (!settings.retry) return CLAIM_JOB_OPTIONS;
  return {
    ...CLAIM_JOB_OPTIONS,
    attempts: settings.retry.attempts,
    backoff: { type: 'exponential', delay: settings.retry.delayMs, jitter: 0.5 },
  };
}

export function claimQueue(settings: QueueSettings, connection: Redis, hostId: string): Queue<ClaimJobData> {
  return new Queue<ClaimJobData>(claimQueueName(hostId), {
    connection,
    prefix: settings.prefix,
    defaultJobOptions: claimJobOptions(settings),
  });
}

/**
 * Wake-ups for long polls: a worker publishes a job's id when a run of it ends (whatever the
 * outcome), and every API process listens on one channel for all hosts. Only a hint to read
 * Postgres again — a lost message costs a waiter its fallback poll, never a wrong answer.
 */
export function jobSignalChannel(settings: Pick<QueueSettings, 'prefix'>): string {
  return `${settings.prefix}:job-ran`;
}

export async function publishJobSignal(connection: Redis, settings: Pick<QueueSettings, 'prefix'>, jobId: string): Promise<void> {
  await connection.publish(jobSignalChannel(settings), jobId);
}

/** Listens on a connection of its own (a subscribed connection can do nothing else); ioredis re-subscribes after a reconnect. */
export async function subscribeJobSignals(
  connection: Redis,
  settings: Pick<QueueSettings, 'prefix'>,
  onJob: (jobId: string) => void,
): Promise<void> {
  const channel = jobSignalChannel(settings);
  connection.on('message', (from: string, jobId: string) => {
    if (from === channel) onJob(jobId);
  });
  await connection.subscribe(channel);
}

/** Hands a job to BullMQ under its Postgres id; adding an id that is already there is a no-op. */
export async function enqueueClaim(queue: Queue<ClaimJobData>, jobId: string): Promise<void> {
  await queue.add('claim', { jobId }, { jobId });
}
