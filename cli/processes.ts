import { startApiServer, type ApiServer } from '../api/server.js';
import type { Config } from '../core/config.js';
import { assertSafeBinding } from '../core/config.js';
import { connect, type Pool } from '../core/db/connect.js';
import { runMigrations } from '../core/db/migrate.js';
import { createLogger, logFn, type Logger } from '../core/log.js';
import type { QueueSettings } from '../core/queue.js';
import { provideServices, type Services } from '../core/services.js';
import { startClaimWorker, type ClaimWorker } from '../worker/claim-worker.js';
import { createGitHubClient } from '../worker/github/client.js';
import { resolveGitHubToken } from '../worker/github/token.js';

/**
 * The three ways ao runs (SPEC §5, §7): `start` (API + worker in one process, embedded services
 * when none are configured), `api` and `worker` (separate processes sharing one Postgres and one
 * Redis, any number of each). Each returns a handle whose `stop()` shuts down gracefully.
 */

interface Runtime {
  db: Pool;
  queue: QueueSettings;
  services: Services;
  logger: Logger;
}

async function openRuntime(config: Config, name: string, allowEmbedded: boolean): Promise<Runtime> {
  const logger = createLogger(config.logLevel, name);
  const services = await provideServices({
    env: {
      ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}),
      ...(config.redisUrl ? { REDIS_URL: config.redisUrl } : {}),
    },
    dataDir: config.dataDir,
    allowEmbedded,
    log: (message) => logger.info(message),
  });
  logger.info({ postgres: services.postgres.origin, redis: services.redis.origin }, 'services ready');
  await runMigrations(services.postgres.url);
  const db = connect(services.postgres.url, { max: 10, applicationName: `ao-${name}` });
  return { db, queue: { redisUrl: services.redis.url, prefix: config.queuePrefix }, services, logger };
}

export interface Running {
  apiUrl: string | null;
  stop(): Promise<void>;
}

function apiOf(config: Config, rt: Runtime): Promise<ApiServer> {
  return startApiServer({
    db: rt.db,
    queue: rt.queue,
    dataDir: config.dataDir,
    apiToken: config.apiToken ?? null,
    host: config.host,
    port: config.port,
    logger: rt.logger.child({ component: 'api' }),
  });
}

function workerOf(config: Config, rt: Runtime): Promise<ClaimWorker> {
  const github = createGitHubClient({
    url: config.githubGraphqlUrl,
    token: config.githubToken ? config.githubToken : () => resolveGitHubToken(),
  });
  return startClaimWorker({
    db: rt.db,
    queue: rt.queue,
    github,
    concurrency: config.workerConcurrency,
    log: logFn(rt.logger.child({ component: 'worker' })),
  });
}

async function run(config: Config, name: string, parts: { api: boolean; worker: boolean; embedded: boolean }): Promise<Running> {
  if (parts.api) assertSafeBinding(config);
  const rt = await openRuntime(config, name, parts.embedded);
  let api: ApiServer | null = null;
  let worker: ClaimWorker | null = null;
  const stop = async () => {
    await worker?.close();
    await api?.close();
    await rt.db.end({ timeout: 5 });
    await rt.services.stop();
  };
  try {
    if (parts.worker) worker = await workerOf(config, rt);
    if (parts.api) api = await apiOf(config, rt);
  } catch (err) {
    await stop();
    throw err;
  }
  rt.logger.info({ api: api?.url, worker: Boolean(worker) }, `ao ${name} running`);
  return { apiUrl: api?.url ?? null, stop };
}

export const runStart = (config: Config) => run(config, 'start', { api: true, worker: true, embedded: true });
export const runApi = (config: Config) => run(config, 'api', { api: true, worker: false, embedded: false });
export const runWorker = (config: Config) => run(config, 'worker', { api: false, worker: true, embedded: false });

/** Runs until SIGINT/SIGTERM, then stops gracefully; a second signal exits at once. */
export async function untilSignal(running: Running): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await running.stop();
}
