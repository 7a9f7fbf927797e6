import type { Queue } from 'bullmq';
import type { Pool } from '../core/db/connect.js';
import { enqueueClaim, enqueueReclaim, type ClaimJobData } from '../core/queue.js';
import { listOrphanedJobs } from '../core/store/jobs.js';
import { every } from './every.js';

export interface SweeperOptions {
  db: Pool;
  /** this worker's host: it sweeps the jobs of this host's sessions, into this host's queue */
  hostId: string;
  queue: Queue<ClaimJobData>;
  /** the one re-claim queue (batches belong to no host) */
  reclaimQueue: Queue<ClaimJobData>;
  intervalMs: number;
  /** a queued job untouched for this long is checked against BullMQ */
  staleSeconds: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/** BullMQ states in which the queue still carries a job (it will be delivered, or is being). */
const CARRIED = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

/**
 * An accepted job is never lost: Postgres is the record, BullMQ only carries the work. The
 * sweeper is the owner of two kinds of job nobody else will move: a queued job that BullMQ does
 * not carry (the API could not hand it over, or Redis lost it), and a running or compensating
 * job whose run's lease ran out while BullMQ no longer carries it (its worker died and Redis lost
 * the active entry). It hands each to BullMQ again under the same id; the next run takes the job
 * over through its fence. Several sweepers on several hosts are harmless: adding an id BullMQ
 * already has is a no-op, and a second run of a job is fenced.
 */
export function startSweeper(options: SweeperOptions): { sweepNow(): Promise<number>; stop(): Promise<void> } {
  async function sweep(): Promise<number> {
    const orphans = await listOrphanedJobs(options.db, { hostId: options.hostId, staleSeconds: options.staleSeconds, limit: 500 });
    let requeued = 0;
    for (const { id, kind, state } of orphans) {
      const queue = kind === 'reclaim_batch' ? options.reclaimQueue : kind === 'claim' || kind === 'spawn_claim' ? options.queue : null;
      if (!queue) continue;
      const carried = await queue.getJob(id);
      const bullState = carried ? await carried.getState() : 'missing';
      if (CARRIED.has(bullState)) continue;
      if (carried) await carried.remove();
      await (queue === options.queue ? enqueueClaim(queue, id) : enqueueReclaim(queue, id));
      requeued++;
      options.log('sweeper handed a job to the queue again', { jobId: id, state, bullState });
    }
    return requeued;
  }
  const loop = every(options.intervalMs, sweep, (err) =>
    options.log('sweep failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  return { sweepNow: loop.now, stop: loop.stop };
}
