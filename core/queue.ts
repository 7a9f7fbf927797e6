import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';

/**
 * The BullMQ side of ao: queue names, job payloads and the Redis connections. Every use of Redis
 * for the job pipeline goes through this module (SPEC §7), so a later backend swap (BullMQ on
 * Postgres) touches one file. Postgres holds the job record; BullMQ carries only `{jobId}` —
 * never a token, never the request.
 */

export const CLAIM_QUEUE = 'claims';

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

export function claimQueue(settings: QueueSettings, connection: Redis): Queue<ClaimJobData> {
  return new Queue<ClaimJobData>(CLAIM_QUEUE, {
    connection,
    prefix: settings.prefix,
    defaultJobOptions: claimJobOptions(settings),
  });
}

export function claimQueueEvents(settings: QueueSettings, connection: Redis): QueueEvents {
  return new QueueEvents(CLAIM_QUEUE, { connection, prefix: settings.prefix });
}

/** Hands a job to BullMQ under its Postgres id; adding an id that is already there is a no-op. */
export async function enqueueClaim(queue: Queue<ClaimJobData>, jobId: string): Promise<void> {
  await queue.add('claim', { jobId }, { jobId });
}
