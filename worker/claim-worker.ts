import type { Pool } from '../core/db/connect.js';
import { claimJobOptions, claimQueue, claimQueueName, openQueueConnection, reclaimQueue, type ClaimJobData, type QueueSettings } from '../core/queue.js';
import { createClaimProcessor, SHUTDOWN } from './claim-processor.js';
import type { GitHubBudget } from '../core/github-budget.js';
import type { PrBatchSource, PrSource } from './pr-source.js';
import { startReclaimWorker } from './reclaim-worker.js';
import { startHostWorker } from './host-worker.js';
import { startJanitor } from './janitor.js';
import { KeyLock } from './key-lock.js';
import { startSweeper } from './sweeper.js';
import { startRetention } from './retention.js';
import type { RetentionBatch } from '../core/store/retention.js';
import { DEFAULT_RETENTION_DAYS } from '../core/config.js';

export interface ClaimWorkerOptions {
  db: Pool;
  /** this worker's host (core/host-id.ts): it cleans the sessions whose worktrees are on it */
  hostId: string;
  /** this host's data dir: the sessions' worktrees are made under `<dataDir>/worktrees` */
  dataDir: string;
  queue: QueueSettings;
  /**
   * The GitHub adapter, made around the budget this worker shares with every other through the
   * queue backend (core/github-budget.ts): `(budget) => createGitHubClient({ …, budget })`.
   */
  github: (budget: GitHubBudget) => PrSource & PrBatchSource;
  /** the share of GitHub's budget batch work never spends (AO_GITHUB_RESERVE, default 0.2) */
  githubReserve?: number;
  concurrency: number;
  /** batch re-claims: PRs per GitHub request (default 20) and the scheduled refresh's interval in seconds (default 300; 0: off) */
  reclaim?: { batchSize?: number; refreshIntervalSeconds?: number };
  /** BullMQ lock and job-run lease; a worker that dies loses its jobs to another one after this long */
  lockDurationMs?: number;
  /** runs of one job that may die before it ends JOB_STALLED (default 3) */
  maxLostRuns?: number;
  stalledIntervalMs?: number;
  sweep?: { intervalMs: number; staleSeconds: number };
  /** records older than this are deleted (AO_RETENTION_DAYS); checked every `intervalMs` (default 10 min) */
  retention?: { seconds: number; intervalMs?: number };
  log: (message: string, fields?: Record<string, unknown>) => void;
}

export interface ClaimWorker {
  sweepNow(): Promise<number>;
  /** removes expired provisional sessions now */
  cleanNow(): Promise<number>;
  /** applies the retention now */
  retainNow(): Promise<RetentionBatch>;
  /**
   * Graceful stop: take no new jobs, give in-flight claims `graceMs` to finish, then abort their
   * GitHub calls and release them to another worker; close every connection.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startClaimWorker(options: ClaimWorkerOptions): Promise<ClaimWorker> {
  const connection = openQueueConnection(options.queue, 'worker', options.db);
  const queue = claimQueue(connection, options.hostId);
  const budget = connection.githubBudget({ reservePercent: Math.round((options.githubReserve ?? 0.2) * 100) });
  const github = options.github(budget);
  const locks = new KeyLock();
  const processClaim = createClaimProcessor({
    db: options.db,
    hostId: options.hostId,
    claimLocks: locks,
    github,
    queue,
    maxAttempts: claimJobOptions(options.queue).attempts ?? 1,
    limits: { leaseMs: options.lockDurationMs ?? 30_000, maxLostRuns: options.maxLostRuns ?? 3 },
    log: options.log,
  });
  const worker = connection.worker<ClaimJobData, unknown>(
    claimQueueName(options.hostId),
    async (job, token, signal) => {
      try {
        return await processClaim(job, token, signal);
      } finally {
        // after the run's last write committed: long polls on any API read the job again
        connection.publishJobSignal(job.id ?? '').catch(() => {});
      }
    },
    {
      concurrency: options.concurrency,
      // a limiter must exist for queue.rateLimit() (GitHub's reset) to pause the workers
      limiter: { max: 100_000, duration: 1000 },
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      // Postgres bounds the runs of a job (lost runs → JOB_STALLED); BullMQ must not give up first
      maxStalledCount: 100,
    },
  );
  worker.on('error', (err) => options.log('claim worker error', { error: err.message }));
  const reclaims = reclaimQueue(connection);
  const sweeper = startSweeper({
    db: options.db,
    hostId: options.hostId,
    queue,
    reclaimQueue: reclaims,
    intervalMs: options.sweep?.intervalMs ?? 15_000,
    staleSeconds: options.sweep?.staleSeconds ?? 10,
    log: options.log,
  });
  const janitor = startJanitor({ db: options.db, hostId: options.hostId, intervalMs: options.sweep?.intervalMs ?? 15_000, log: options.log });
  const retention = startRetention({
    db: options.db,
    retentionSeconds: options.retention?.seconds ?? DEFAULT_RETENTION_DAYS * 86_400,
    intervalMs: options.retention?.intervalMs ?? 600_000,
    log: options.log,
  });
  const hostWorker = await startHostWorker({
    db: options.db,
    hostId: options.hostId,
    dataDir: options.dataDir,
    connection,
    locks,
    log: options.log,
  });
  const reclaimWorker = await startReclaimWorker({
    db: options.db,
    connection,
    queue: reclaims,
    github,
    batchSize: options.reclaim?.batchSize ?? 20,
    refreshIntervalSeconds: options.reclaim?.refreshIntervalSeconds ?? 300,
    lockDurationMs: options.lockDurationMs ?? 30_000,
    maxLostRuns: options.maxLostRuns ?? 3,
    stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
    log: options.log,
  });
  await worker.waitUntilReady();

  return {
    sweepNow: () => sweeper.sweepNow(),
    cleanNow: () => janitor.sweepNow(),
    retainNow: () => retention.runNow(),
    async close(graceMs = 10_000) {
      await sweeper.stop();
      await janitor.stop();
      await retention.stop();
      const abort = setTimeout(() => worker.cancelAllJobs(SHUTDOWN), graceMs);
      try {
        await worker.close();
      } finally {
        clearTimeout(abort);
        await hostWorker.close();
        await reclaimWorker.close();
        await queue.close();
        await reclaims.close();
        await connection.close();
      }
    },
  };
}
