import type { FastifyBaseLogger } from 'fastify';
import type { Pool } from '../core/db/connect.js';
import type { Queue } from 'bullmq';
import { claimQueue, enqueueClaim, enqueueReclaim, openQueueConnection, reclaimQueue, type ClaimJobData, type QueueSettings } from '../core/queue.js';
import { settlesWithin } from '../core/settles-within.js';
import { HOST_WORK_SIGNAL, hostWorkQueue, type HostWork } from '../core/host-work.js';
import { buildApi } from './app.js';
import { hostHasLiveWorker, listHostIds } from '../core/store/host-workers.js';
import { HostWorkClient } from './host-work-client.js';
import { JobWaiter } from './job-waiter.js';

export interface ApiServerOptions {
  db: Pool;
  queue: QueueSettings;
  /** this process's host (core/host-id.ts): the projects registered through it have their checkouts on it */
  hostId: string;
  /** how long a request waits for a host's worker to do its git work (default 30 s; then HOST_UNAVAILABLE) */
  hostWaitMs?: number;
  apiToken: string | null;
  host: string;
  /** 0: a free port */
  port: number;
  /** how long a provisional session lives unless a claim activates it (default 600 s) */
  provisionalLeaseSeconds?: number;
  /** how long an event-stream client may stall before it is disconnected (default 30 s) */
  sseSlowClientMs?: number;
  logger?: FastifyBaseLogger;
}

/** How long a request may wait on the queue backend before the API answers QUEUE_UNAVAILABLE. */
export const ENQUEUE_TIMEOUT_MS = 3000;

/**
 * BullMQ waits for its connection to come back before adding a job; a request handler must not.
 * Refuse at once when the producer knows its store is unreachable, and give up after ENQUEUE_TIMEOUT_MS.
 */
async function failFast<T>(producer: { available(): boolean; backend: string }, work: Promise<T>): Promise<T> {
  if (!producer.available()) {
    work.catch(() => {});
    throw new Error(`the ${producer.backend} queue backend is not connected`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the ${producer.backend} queue backend did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

/** Host liveness for the claim route: at most one query per host every two seconds. */
function hostLiveness(db: Pool): (hostId: string) => Promise<boolean> {
  const seen = new Map<string, { alive: Promise<boolean>; at: number }>();
  return (hostId) => {
    const cached = seen.get(hostId);
    if (cached && Date.now() - cached.at < 2000) return cached.alive;
    const alive = hostHasLiveWorker(db, hostId).catch(() => true);
    seen.set(hostId, { alive, at: Date.now() });
    return alive;
  };
}

/**
 * The API process: fastify plus a fail-fast queue producer (per host a claim queue and a host-work
 * queue, made when first needed, and the one re-claim queue, all on one connection) and one
 * listener for the workers' job signals.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const producer = openQueueConnection(options.queue, 'producer', options.db);
  const queues: Array<Queue<ClaimJobData> | Queue<HostWork>> = [];
  /** one queue per host, made when first needed (all on the producer connection) */
  const perHost = <Q extends Queue<ClaimJobData> | Queue<HostWork>>(make: (hostId: string) => Q): ((hostId: string) => Q) => {
    const made = new Map<string, Q>();
    return (hostId) => {
      let queue = made.get(hostId);
      if (!queue) {
        queue = make(hostId);
        queue.on('error', () => {});
        made.set(hostId, queue);
        queues.push(queue);
      }
      return queue;
    };
  };
  const queueOf = perHost((hostId) => claimQueue(producer, hostId));
  const hostQueueOf = perHost((hostId) => hostWorkQueue(producer, hostId));
  await queueOf(options.hostId).waitUntilReady();
  const reclaims = reclaimQueue(producer);
  reclaims.on('error', () => {});
  queues.push(reclaims);
  // read-only here: the workers record every GitHub answer in it
  const budget = producer.githubBudget();
  /** every queue of the deployment as it stands: the re-claim queue and each known host's two (hosts come and go) */
  const allQueues = async (): Promise<Array<Queue<unknown>>> => {
    const hosts = new Set([options.hostId, ...(await listHostIds(options.db).catch(() => []))]);
    return [reclaims, ...[...hosts].sort().flatMap((host) => [queueOf(host), hostQueueOf(host)])] as Array<Queue<unknown>>;
  };
  const hostWork = new HostWorkClient(options.db, hostQueueOf, (work) => failFast(producer, work), options.hostWaitMs);
  const waiter = new JobWaiter(options.db);
  await producer.subscribeJobSignals((id) =>
    id.startsWith(HOST_WORK_SIGNAL) ? hostWork.wake(id.slice(HOST_WORK_SIGNAL.length)) : waiter.wake(id),
  );
  const app = await buildApi(
    {
      db: options.db,
      hostId: options.hostId,
      hostWork,
      hostAlive: hostLiveness(options.db),
      githubBudget: () => budget.read(),
      queues: allQueues,
      provisionalLeaseSeconds: options.provisionalLeaseSeconds ?? 600,
      apiToken: options.apiToken,
      queue: {
        enqueueClaim: (jobId, hostId) => failFast(producer, enqueueClaim(queueOf(hostId), jobId)),
        enqueueReclaim: (jobId) => failFast(producer, enqueueReclaim(reclaims, jobId)),
        backend: producer.backend,
        available: () => producer.available(),
        ping: () => producer.ping(),
      },
      waiter,
      metrics: { queues: allQueues, budget },
      ...(options.sseSlowClientMs === undefined ? {} : { sseSlowClientMs: options.sseSlowClientMs }),
    },
    options.logger === undefined ? {} : { logger: options.logger },
  );
  const address = await app.listen({ host: options.host, port: options.port });
  return {
    url: address,
    async close() {
      await app.close();
      // BullMQ's close waits for its store; a shutdown must not hang on one that is gone
      await settlesWithin(Promise.all(queues.map((q) => q.close())), 2000);
      await settlesWithin(producer.close(), 2000);
    },
  };
}
