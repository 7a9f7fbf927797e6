import type { Pool } from '../core/db/connect.js';
import { TERMINAL_JOB_STATES } from '../core/domain.js';
import { requireJobAnswer, type JobAnswer } from '../core/store/jobs.js';

/**
 * Long-poll support for `GET /jobs/{id}?wait=`: Postgres is the truth; the workers' job signals
 * (core/queue.ts, published when a run ends) only say when to look again. A slow fallback poll
 * covers what a signal cannot tell (a job finished by another path, such as a cancel on another
 * API; a message lost to a Redis reconnect), so no process keeps state another process needs.
 */
export class JobWaiter {
  private readonly wakers = new Map<string, Set<() => void>>();

  constructor(
    private readonly db: Pool,
    private readonly fallbackPollMs = 500,
  ) {}

  wake(jobId: string): void {
    for (const waker of this.wakers.get(jobId) ?? []) waker();
  }

  /** The job once it is finished, or as it stands when `timeoutMs` runs out or `signal` aborts. */
  async wait(jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<JobAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let woken!: () => void;
      const wakeup = new Promise<void>((resolve) => (woken = resolve));
      const set = this.wakers.get(jobId) ?? new Set();
      set.add(woken);
      this.wakers.set(jobId, set);
      try {
        // registered before reading: a completion between the read and the wait still wakes us
        const job = await requireJobAnswer(this.db, jobId);
        const left = deadline - Date.now();
        if (TERMINAL_JOB_STATES.has(job.state) || left <= 0 || signal?.aborted) return job;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, this.fallbackPollMs));
          void wakeup.then(done);
          signal?.addEventListener('abort', done, { once: true });
        });
      } finally {
        set.delete(woken);
        if (set.size === 0) this.wakers.delete(jobId);
      }
    }
  }
}
