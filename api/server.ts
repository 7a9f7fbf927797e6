import { hostname } from 'node:os';
import type { FastifyServerOptions } from 'fastify';
import type { Pool } from '../core/db/connect.js';
import { claimQueue, claimQueueEvents, enqueueClaim, producerConnection, workerConnection, type QueueSettings } from '../core/queue.js';
import { buildApi } from './app.js';
import { JobWaiter } from './job-waiter.js';

export interface ApiServerOptions {
  db: Pool;
  queue: QueueSettings;
  dataDir: string;
  apiToken: string | null;
  host: string;
  /** 0: a free port */
  port: number;
  logger?: FastifyServerOptions['logger'];
}

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

/** The API process: fastify plus a fail-fast queue producer and one shared queue-event listener. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const producer = producerConnection(options.queue.redisUrl);
  producer.on('error', () => {}); // surfaced per request as QUEUE_UNAVAILABLE and by /readyz
  const listener = workerConnection(options.queue.redisUrl);
  listener.on('error', () => {});
  const queue = claimQueue(options.queue, producer);
  queue.on('error', () => {});
  await queue.waitUntilReady();
  const events = claimQueueEvents(options.queue, listener);
  events.on('error', () => {});
  const app = await buildApi(
    {
      db: options.db,
      dataDir: options.dataDir,
      hostName: hostname(),
      apiToken: options.apiToken,
      queue: {
        enqueueClaim: (jobId) => enqueueClaim(queue, jobId),
        ping: async () => {
          await producer.ping();
        },
      },
      waiter: new JobWaiter(options.db, events),
    },
    options.logger === undefined ? {} : { logger: options.logger },
  );
  const address = await app.listen({ host: options.host, port: options.port });
  return {
    url: address,
    async close() {
      await app.close();
      await events.close();
      await queue.close();
      producer.disconnect();
      listener.disconnect();
    },
  };
}
