import type { Pool } from '../core/db/connect.js';
import { renewJobLease, type JobRun } from '../core/store/jobs.js';

export const FENCE_LOST = 'fence lost';

export interface HeldLease {
  /** aborts with FENCE_LOST when another run took the job over */
  readonly signal: AbortSignal;
  readonly lost: boolean;
  stop(): void;
}

/**
 * Keeps a run's lease alive while it works (renewed every third of the lease). When a renewal
 * finds the fence gone, the run is told through `signal` and must stop writing. A renewal that
 * fails (the database is unreachable) is retried at the next tick; if the lease runs out
 * meanwhile, another run may take the job over and this run's writes are refused by its fence.
 */
export function holdLease(db: Pool, run: JobRun, leaseMs: number): HeldLease {
  const controller = new AbortController();
  let lost = false;
  let renewing = false;
  const timer = setInterval(() => {
    if (renewing) return;
    renewing = true;
    renewJobLease(db, run, leaseMs)
      .then((ok) => {
        if (!ok && !lost) {
          lost = true;
          controller.abort(FENCE_LOST);
        }
      })
      .catch(() => {})
      .finally(() => {
        renewing = false;
      });
  }, Math.max(50, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    signal: controller.signal,
    get lost() {
      return lost;
    },
    stop: () => clearInterval(timer),
  };
}
