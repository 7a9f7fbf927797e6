import { randomUUID } from 'node:crypto';
import type { Pool } from '../core/db/connect.js';
import { HOST_WORK_SIGNAL, HostWork, hostWorkQueueName, type HostWorkAnswer } from '../core/host-work.js';
import type { QueueConnection } from '../core/queue.js';
import { beatHostWorker, stopHostWorker } from '../core/store/host-workers.js';
import { every } from './every.js';
import { asJobError } from './failure.js';
import { runHostWork } from './host-ops.js';
import { KeyLock } from './key-lock.js';

export interface HostWorkerOptions {
  db: Pool;
  hostId: string;
  dataDir: string;
  /** the worker process's queue connection (core/queue.ts) */
  connection: QueueConnection;
  /** shared with the claim worker of this process, so one session's git work never overlaps */
  locks?: KeyLock;
  /** how often this process says it is alive (default 5 s; a worker is taken for dead after 15 s) */
  heartbeatMs?: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

export interface HostWorker {
  close(): Promise<void>;
}

/**
 * A host's git work for the API (core/host-work.ts), and the heartbeat that tells everyone this
 * host has a live worker. Every worker process runs one, next to its claim worker.
 */
export async function startHostWorker(options: HostWorkerOptions): Promise<HostWorker> {
  const { connection } = options;
  const deps = { db: options.db, hostId: options.hostId, dataDir: options.dataDir, locks: options.locks ?? new KeyLock() };
  const worker = connection.worker<HostWork, HostWorkAnswer>(
    hostWorkQueueName(options.hostId),
    async (job) => {
      try {
        return { ok: true, value: (await runHostWork(deps, HostWork.parse(job.data))) ?? null };
      } catch (err) {
        const error = asJobError(err);
        if (error.code === 'INTERNAL_ERROR') options.log('host work failed', { op: job.data.op, error: error.message });
        return { ok: false, error: error.toBody() };
      } finally {
        connection.publishJobSignal(`${HOST_WORK_SIGNAL}${job.id ?? ''}`).catch(() => {});
      }
    },
    {
      concurrency: 8,
      // an operation is delivered once (HOST_WORK_OPTIONS): one whose worker died fails, it is not re-run
      maxStalledCount: 0,
    },
  );
  worker.on('error', (err) => options.log('host worker error', { error: err.message }));
  const me = { workerId: randomUUID(), host: options.hostId, pid: process.pid };
  await beatHostWorker(options.db, me);
  const heartbeat = every(options.heartbeatMs ?? 5000, () => beatHostWorker(options.db, me), (err) =>
    options.log('host worker heartbeat failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  await worker.waitUntilReady();
  return {
    async close() {
      await heartbeat.stop();
      await worker.close();
      await stopHostWorker(options.db, me.workerId).catch(() => {});
    },
  };
}
