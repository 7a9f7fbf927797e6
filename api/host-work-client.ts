import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Pool } from '../core/db/connect.js';
import { AoError, isErrorCode } from '../core/errors.js';
import { HostWorkAnswer, type HostWork } from '../core/host-work.js';
import { hostHasLiveWorker } from '../core/store/host-workers.js';

/** How long the API waits for a host's worker to answer before HOST_UNAVAILABLE (AO_HOST_WAIT_SECONDS). */
export const DEFAULT_HOST_WAIT_MS = 30_000;

/**
 * The API's side of host work (core/host-work.ts): hands an operation to the queue of the host
 * that holds the checkout and waits for that host's worker to answer. The answer is read from
 * BullMQ; a worker's signal (HOST_WORK_SIGNAL on the job-signal channel) only says when to read,
 * and a slow poll covers a lost signal.
 */
export class HostWorkClient {
  private readonly wakers = new Map<string, () => void>();

  constructor(
    private readonly db: Pool,
    /** the host's queue, with the API's fail-fast hand-off (QUEUE_UNAVAILABLE when Redis is down) */
    private readonly queueOf: (hostId: string) => Queue<HostWork>,
    private readonly handOff: <T>(work: Promise<T>) => Promise<T>,
    private readonly waitMs = DEFAULT_HOST_WAIT_MS,
    private readonly pollMs = 500,
  ) {}

  wake(id: string): void {
    this.wakers.get(id)?.();
  }

  /** The operation's value; its AoError when it failed; HOST_UNAVAILABLE when no worker of the host answered in time. */
  async run(hostId: string, work: HostWork): Promise<unknown> {
    const queue = this.queueOf(hostId);
    const id = randomUUID();
    try {
      await this.handOff(queue.add(work.op, work, { jobId: id }));
    } catch (err) {
      throw new AoError('QUEUE_UNAVAILABLE', `could not hand ${work.op} to host ${hostId}: ${err instanceof Error ? err.message : String(err)}`, {
        host: hostId,
      });
    }
    const deadline = Date.now() + this.waitMs;
    try {
      for (;;) {
        // registered before reading: an answer between the read and the wait still wakes us
        const woken = new Promise<void>((resolve) => this.wakers.set(id, resolve));
        const job = await queue.getJob(id);
        if (job?.finishedOn) return answerOf(hostId, work, job.returnvalue, job.failedReason);
        const left = deadline - Date.now();
        if (left <= 0) break;
        await Promise.race([woken, new Promise((resolve) => setTimeout(resolve, Math.min(left, this.pollMs)))]);
      }
    } finally {
      this.wakers.delete(id);
    }
    // nobody took it: it must not run later behind the caller's back (a job a worker holds cannot be removed)
    const job = await queue.getJob(id).catch(() => undefined);
    const withdrawn = job ? await job.remove().then(() => true, () => false) : true;
    if (!withdrawn && job?.finishedOn) return answerOf(hostId, work, job.returnvalue, job.failedReason);
    const alive = await hostHasLiveWorker(this.db, hostId).catch(() => false);
    throw new AoError(
      'HOST_UNAVAILABLE',
      alive
        ? `the workers of host ${hostId} did not answer ${work.op} within ${Math.round(this.waitMs / 1000)} s`
        : `no worker of host ${hostId} is running, so nothing can ${work.op} there: start \`ao worker\` on that host (AO_HOST_ID=${hostId})`,
      { host: hostId, op: work.op, waitedSeconds: Math.round(this.waitMs / 1000), liveWorker: alive, withdrawn },
    );
  }
}

function answerOf(hostId: string, work: HostWork, returnvalue: unknown, failedReason: string | undefined): unknown {
  const answer = HostWorkAnswer.safeParse(returnvalue);
  if (!answer.success) {
    throw new AoError('WORKSPACE_FAILED', `host ${hostId} could not ${work.op}: ${failedReason ?? 'its worker gave no answer'}`, {
      host: hostId,
      op: work.op,
    });
  }
  if (answer.data.ok) return answer.data.value;
  const { code, message, details } = answer.data.error;
  throw new AoError(isErrorCode(code) ? code : 'INTERNAL_ERROR', message, details);
}
