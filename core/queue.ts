import { createHash } from 'node:crypto';
import {
  createPostgresBackend,
  Queue,
  Worker,
  type JobProgress,
  type JobsOptions,
  type PostgresConnectionOptions,
  type PostgresQueueBackend,
  type Processor,
  type WorkerOptions,
} from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import type { QueueBackendName } from './config.js';
import type { Pool } from './db/connect.js';
import { createGitHubBudget, type GitHubBudget } from './github-budget.js';
import { createPostgresGitHubBudget } from './github-budget-postgres.js';

/**
 * The BullMQ side of ao: queue names, job payloads and the connection to the queue backend. Every
 * use of the queue store goes through this module (SPEC §7): BullMQ on Redis, or BullMQ 6 on its
 * PostgreSQL backend in ao's own database (zero-dependency mode), together with what ao keeps
 * beside its queues there — the job signals that wake long polls, and the shared GitHub budget.
 * Postgres holds the job record; BullMQ carries only `{jobId}` — never a token, never the request.
 */

interface CommonQueueSettings {
  /** BullMQ key prefix on Redis; on Postgres it names BullMQ's schema (AO_QUEUE_PREFIX) */
  prefix: string;
  /** retry schedule override (tests shorten the backoff) */
  retry?: { attempts: number; delayMs: number };
}

export type QueueSettings = CommonQueueSettings &
  ({ backend: 'redis'; redisUrl: string } | { backend: 'postgres'; postgresUrl: string });

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

export const ClaimJobData = z.object({ jobId: z.string().min(1) });
export type ClaimJobData = z.infer<typeof ClaimJobData>;

/** Retries for transient failures: exponential backoff with jitter (1 s, 2 s, 4 s, … ±50%). */
export const CLAIM_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  // Postgres keeps the record; BullMQ keeps finished jobs a day (failed a week) for the dashboard.
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export function claimJobOptions(settings: Pick<QueueSettings, 'retry'>): JobsOptions {
  if (!settings.retry) return CLAIM_JOB_OPTIONS;
  return {
    ...CLAIM_JOB_OPTIONS,
    attempts: settings.retry.attempts,
    backoff: { type: 'exponential', delay: settings.retry.delayMs, jitter: 0.5 },
  };
}

/** Hands a job to BullMQ under its Postgres id; adding an id that is already there is a no-op. */
export async function enqueueClaim(queue: Queue<ClaimJobData>, jobId: string): Promise<void> {
  await queue.add('claim', { jobId }, { jobId });
}

/** Hands a batch to the re-claim queue under its Postgres id (a no-op when it is there already). */
export async function enqueueReclaim(queue: Queue<ClaimJobData>, jobId: string): Promise<void> {
  await queue.add('reclaim', { jobId }, { jobId });
}

export function claimQueue(connection: QueueConnection, hostId: string): Queue<ClaimJobData> {
  return connection.queue<ClaimJobData>(claimQueueName(hostId), claimJobOptions(connection.settings));
}

export function reclaimQueue(connection: QueueConnection): Queue<ClaimJobData> {
  return connection.queue<ClaimJobData>(RECLAIM_QUEUE, claimJobOptions(connection.settings));
}

/** What a Worker may be tuned with; the connection is the backend's. */
export type WorkerTuning = Omit<WorkerOptions, 'connection' | 'prefix'>;

/**
 * One process's connection to the queue backend. `producer` (the API) fails fast when the store is
 * unreachable, so a request is answered 503 at once; `worker` waits for it to come back.
 */
export interface QueueConnection {
  readonly backend: QueueBackendName;
  readonly settings: QueueSettings;
  queue<T>(name: string, defaultJobOptions?: JobsOptions): Queue<T>;
  /** a Worker on a connection of its own (a blocked consumer can do nothing else) */
  worker<T, R>(name: string, processor: Processor<T, R>, tuning: WorkerTuning): Worker<T, R>;
  /** false while a fail-fast producer knows its store is unreachable */
  available(): boolean;
  /** one round trip to the store (readiness) */
  ping(): Promise<void>;
  /**
   * Wake-ups for long polls: a worker signals a job's id when a run of it ends (whatever the
   * outcome), and every API process listens for all hosts. Only a hint to read Postgres again —
   * a lost signal costs a waiter its fallback poll, never a wrong answer.
   */
  publishJobSignal(id: string): Promise<void>;
  subscribeJobSignals(onJob: (id: string) => void): Promise<void>;
  /** the GitHub budget every worker process shares (core/github-budget.ts) */
  githubBudget(options?: { reservePercent?: number }): GitHubBudget;
  /** ends the connections it made; close its queues and workers first */
  close(): Promise<void>;
}

export type QueueRole = 'producer' | 'worker';

/** `db`: ao's pool, for what the Postgres backend keeps in ao's own database (signals, budget). */
export function openQueueConnection(settings: QueueSettings, role: QueueRole, db: Pool): QueueConnection {
  return settings.backend === 'redis' ? redisQueueConnection(settings, role) : postgresQueueConnection(settings, role, db);
}

// ---------------------------------------------------------------------------------------------
// Redis

/** For request handlers: fails fast when Redis is down instead of queueing commands in memory. */
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

function jobSignalChannel(settings: Pick<QueueSettings, 'prefix'>): string {
  return `${settings.prefix}:job-ran`;
}

function redisQueueConnection(settings: QueueSettings & { backend: 'redis' }, role: QueueRole): QueueConnection {
  const base = role === 'producer' ? producerConnection(settings.redisUrl) : workerConnection(settings.redisUrl);
  // surfaced per request as QUEUE_UNAVAILABLE and by /readyz (producer), retried (worker)
  base.on('error', () => {});
  const made: Redis[] = [base];
  const own = (): Redis => {
    const connection = workerConnection(settings.redisUrl);
    connection.on('error', () => {});
    made.push(connection);
    return connection;
  };
  const channel = jobSignalChannel(settings);
  return {
    backend: 'redis',
    settings,
    queue<T>(name: string, defaultJobOptions?: JobsOptions): Queue<T> {
      return new Queue<T>(name, { connection: base, prefix: settings.prefix, ...(defaultJobOptions ? { defaultJobOptions } : {}) });
    },
    worker<T, R>(name: string, processor: Processor<T, R>, tuning: WorkerTuning): Worker<T, R> {
      return new Worker<T, R>(name, processor, { ...tuning, connection: own(), prefix: settings.prefix });
    },
    available: () => base.status === 'ready',
    ping: async () => {
      await base.ping();
    },
    publishJobSignal: async (id) => {
      await base.publish(channel, id);
    },
    // a subscribed connection can do nothing else; ioredis re-subscribes after a reconnect
    subscribeJobSignals: async (onJob) => {
      const listener = own();
      listener.on('message', (from: string, id: string) => {
        if (from === channel) onJob(id);
      });
      await listener.subscribe(channel);
    },
    githubBudget: (options = {}) =>
      createGitHubBudget({ redis: base, prefix: settings.prefix, ...(options.reservePercent === undefined ? {} : { reservePercent: options.reservePercent }) }),
    close: async () => {
      for (const connection of made) connection.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (BullMQ 6's backend, in ao's database)

/**
 * BullMQ's tables live in a schema of their own per AO_QUEUE_PREFIX (what the prefix is to Redis
 * keys), `bullmq_<prefix>`, kept within Postgres's 63-byte identifiers.
 */
function bullmqSchema(prefix: string): string {
  const name = `bullmq_${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  return name.length <= 63 ? name : `${name.slice(0, 46)}_${hash(prefix).slice(0, 16)}`;
}

/** NOTIFY channels are identifiers too (≤ 63 bytes): the prefix is hashed in. */
function postgresSignalChannel(prefix: string): string {
  return `ao_job_ran_${hash(prefix).slice(0, 16)}`;
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex');

function postgresQueueConnection(settings: QueueSettings & { backend: 'postgres' }, role: QueueRole, db: Pool): QueueConnection {
  // each Queue and Worker owns a small pg pool (and a Worker one LISTEN connection besides): BullMQ
  // pins the schema only on pools it builds itself. `migrate`: the first to connect creates or
  // upgrades BullMQ's schema, under BullMQ's advisory lock.
  const connection = (max: number) => ({
    connectionString: settings.postgresUrl,
    schema: bullmqSchema(settings.prefix),
    migrate: true,
    max,
    idleTimeoutMillis: 10_000,
    application_name: `ao-bullmq-${role}`,
  });
  const channel = postgresSignalChannel(settings.prefix);
  const listening: Array<{ unlisten(): Promise<void> }> = [];
  return {
    backend: 'postgres',
    settings,
    // BullMQ's classes carry their backend in a type parameter that defaults to Redis's; ao uses
    // only what IQueueBackend gives every backend, so a Postgres-backed one is typed as the default
    queue<T>(name: string, defaultJobOptions?: JobsOptions): Queue<T> {
      const queue = new Queue<T, unknown, string, T, unknown, string, PostgresQueueBackend, PostgresConnectionOptions>(
        name,
        { connection: connection(3), ...(defaultJobOptions ? { defaultJobOptions } : {}) },
        createPostgresBackend,
      );
      return queue as unknown as Queue<T>;
    },
    worker<T, R>(name: string, processor: Processor<T, R>, tuning: WorkerTuning): Worker<T, R> {
      const worker = new Worker<T, R, string, PostgresQueueBackend, JobProgress, PostgresConnectionOptions>(
        name,
        processor,
        { ...tuning, connection: connection(4) },
        createPostgresBackend,
      );
      return worker as unknown as Worker<T, R>;
    },
    // ao writes the job's row in the same database first: when Postgres is down that write fails
    available: () => true,
    ping: async () => {
      await db`select 1`;
    },
    publishJobSignal: async (id) => {
      await db.notify(channel, id);
    },
    // postgres.js listens on a connection of its own and listens again after a reconnect
    subscribeJobSignals: async (onJob) => {
      listening.push(await db.listen(channel, onJob));
    },
    githubBudget: (options = {}) =>
      createPostgresGitHubBudget({ db, prefix: settings.prefix, ...(options.reservePercent === undefined ? {} : { reservePercent: options.reservePercent }) }),
    close: async () => {
      await Promise.all(listening.splice(0).map((l) => l.unlisten().catch(() => {})));
    },
  };
}
