import type { Pool } from '../core/db/connect.js';
import type { Queue } from 'bullmq';
import { enqueueReclaim, RECLAIM_QUEUE, type ClaimJobData, type QueueConnection } from '../core/queue.js';
import { createJob, hasUnfinishedRefresh } from '../core/store/jobs.js';
import type { PrBatchSource } from './pr-source.js';
import { createReclaimProcessor } from './reclaim-processor.js';

export interface ReclaimWorkerOptions {
  db: Pool;
  /** the worker process's queue connection (core/queue.ts) */
  connection: QueueConnection;
  /** the re-claim queue's handle, owned by the caller (the sweeper uses it too) */
  queue: Queue<ClaimJobData>;
  github: PrBatchSource;
  batchSize: number;
  /** seconds between scheduled refreshes of every open PR a live session owns; 0: none */
  refreshIntervalSeconds: number;
  lockDurationMs: number;
  maxLostRuns: number;
  stalledIntervalMs: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/** The scheduled refresh's BullMQ scheduler id and job name (one per queue, whichever worker runs it). */
const REFRESH = 'refresh';

/**
 * Batch re-claims, and the scheduled refresh that makes one every interval (SPEC §6): a BullMQ
 * job scheduler on the one re-claim queue, so however many workers run, one refresh is made per
 * interval — and none while the previous one is still going.
 */
export async function startReclaimWorker(options: ReclaimWorkerOptions): Promise<{ close(): Promise<void> }> {
  const { connection, queue } = options;
  const processBatch = createReclaimProcessor({
    db: options.db,
    github: options.github,
    batchSize: options.batchSize,
    limits: { leaseMs: options.lockDurationMs, maxLostRuns: options.maxLostRuns },
    log: options.log,
  });
  const worker = connection.worker<ClaimJobData, unknown>(
    RECLAIM_QUEUE,
    async (job, token, signal) => {
      if (job.name === REFRESH) return scheduleRefresh(options, queue);
      try {
        return await processBatch(job, token, signal);
      } finally {
        connection.publishJobSignal(job.id ?? '').catch(() => {});
      }
    },
    {
      concurrency: 2,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: 100,
    },
  );
  worker.on('error', (err) => options.log('re-claim worker error', { error: err.message }));
  if (options.refreshIntervalSeconds > 0) {
    // the first refresh one interval after start, not at once: a restart is no reason to refresh
    const every = options.refreshIntervalSeconds * 1000;
    await queue.upsertJobScheduler(REFRESH, { every, startDate: Date.now() + every }, { name: REFRESH, data: { jobId: REFRESH } });
  } else {
    await queue.removeJobScheduler(REFRESH);
  }
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
    },
  };
}

async function scheduleRefresh(options: ReclaimWorkerOptions, queue: Queue<ClaimJobData>): Promise<{ jobId: string; outcome: string }> {
  if (await hasUnfinishedRefresh(options.db)) return { jobId: REFRESH, outcome: 'previous refresh still running' };
  const { job } = await createJob(options.db, {
    kind: 'reclaim_batch',
    sessionId: null,
    projectId: null,
    request: { selector: { live: true }, includeClosed: false },
    idempotency: null,
  });
  await enqueueReclaim(queue, job.id);
  options.log('scheduled refresh of live sessions\' PRs', { jobId: job.id });
  return { jobId: job.id, outcome: 'scheduled' };
}
