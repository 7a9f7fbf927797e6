import type { Queue } from 'bullmq';
import type { Pool } from '../core/db/connect.js';
import { enqueueClaim, type ClaimJobData } from '../core/queue.js';
import { listStaleUnfinishedJobs } from '../core/store/jobs.js';
import { every } from './every.js';

export interface SweeperOptions {
  db: Pool;
  queue: Queue<ClaimJobData>;
  intervalMs: number;
  /** a job untouched for this long is checked against BullMQ */
  staleSeconds: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * An accepted job is never lost (issue #3): Postgres is the record, BullMQ only carries the
 * work. If Redis loses a job (flushed, restarted without persistence) or BullMQ finished a job
 * that Postgres still calls unfinished, the sweeper hands the job to BullMQ again under the same
 * id. Several sweepers on several hosts are harmless: adding an existing id is a no-op, and the
 * claim transaction is idempotent per job.
 */
export function startSweeper(options: SweeperOptions): { sweepNow(): Promise<number>; stop(): Promise<void> } {
  async function sweep(): Promise<number> {
    const stale = await listStaleUnfinishedJobs(options.db, { staleSeconds: options.staleSeconds, limit: 500 });
    let requeued = 0;
    for (const { id, kind } of stale) {
      if (kind !== 'claim' && kind !== 'spawn_claim') continue;
      const carried = await options.queue.getJob(id);
      const state = carried ? await carried.getState() : 'missing';
      if (state === 'completed' || state === 'failed') await carried?.remove();
      else if (state !== 'missing' && state !== 'unknown') continue; // waiting, delayed or active: alive
      await enqueueClaim(options.queue, id);
      requeued++;
      options.log('sweeper re-enqueued a job BullMQ no longer carried', { jobId: id, bullState: state });
    }
    return requeued;
  }
  const loop = every(options.intervalMs, sweep, (err) =>
    options.log('sweep failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  return { sweepNow: loop.now, stop: loop.stop };
}
