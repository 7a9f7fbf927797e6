import { createServer } from 'node:net';
import { startApiServer, type ApiServer } from '../api/server.js';
import type { Config } from '../core/config.js';
import { assertSafeBinding, maskCredentials } from '../core/config.js';
import { connect, type Pool } from '../core/db/connect.js';
import { runMigrations } from '../core/db/migrate.js';
import { redisEvictionWarning } from '../core/redis-policy.js';
import { settlesWithin } from '../core/settles-within.js';
import { resolveHostId } from '../core/host-id.js';
import { createLogger, logFn, type Logger } from '../core/log.js';
import type { QueueSettings } from '../core/queue.js';
import { embeddedPostgresDir, provideServices, type Services } from '../core/services.js';
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
  hostId: string;
  queue: QueueSettings;
  services: Services;
  logger: Logger;
}

async function openRuntime(config: Config, name: string, allowEmbedded: boolean): Promise<Runtime> {
  const logger = createLogger(config.logLevel, name, config.logFormat);
  const hostId = await resolveHostId({ configured: config.hostId, dataDir: config.dataDir });
  const services = await provideServices({
    env: {
      ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}),
      ...(config.redisUrl ? { REDIS_URL: config.redisUrl } : {}),
      // auto (default) | embedded: embedded services even when local ones answer
      ...(process.env.AO_SERVICES ? { AO_SERVICES: process.env.AO_SERVICES } : {}),
    },
    dataDir: config.dataDir,
    allowEmbedded,
    queueBackend: config.queueBackend,
    log: (message) => logger.info(message),
  });
  try {
    const { backend, reason } = services.queue;
    logger.info(
      { host: hostId, postgres: services.postgres.origin, redis: services.redis?.origin ?? null, queueBackend: backend },
      `services ready; queues on ${backend === 'redis' ? 'Redis' : 'Postgres'} (${reason})`,
    );
    if (services.redis) {
      const eviction = await redisEvictionWarning(services.redis.url);
      if (eviction) logger.warn(eviction);
    }
    await runMigrations(services.postgres.url);
    const db = connect(services.postgres.url, { max: 10, applicationName: `ao-${name}` });
    const queue: QueueSettings = services.redis
      ? { backend: 'redis', redisUrl: services.redis.url, prefix: config.queuePrefix }
      : { backend: 'postgres', postgresUrl: services.postgres.url, prefix: config.queuePrefix };
    return { db, hostId, queue, services, logger };
  } catch (err) {
    await services.stop();
    throw err;
  }
}

export interface Running {
  apiUrl: string | null;
  /** what a person starting ao wants to know, one `[label, value]` per line (cli/serve.ts prints it on a terminal) */
  summary: Array<[string, string]>;
  /** whether this process runs a claim worker (its stop drains in-flight claims) */
  worker: boolean;
  stop(): Promise<void>;
}

/** In-flight claims get this long to finish at a stop; then they go back to the queue. */
export const DRAIN_MS = 10_000;
/** An API whose requests (long polls) outlast this at a stop is closed under them. */
const API_CLOSE_MS = 5000;

function apiOf(config: Config, rt: Runtime): Promise<ApiServer> {
  return startApiServer({
    db: rt.db,
    queue: rt.queue,
    hostId: rt.hostId,
    hostWaitMs: config.hostWaitSeconds * 1000,
    apiToken: config.apiToken ?? null,
    host: config.host,
    port: config.port,
    logger: rt.logger.child({ component: 'api' }),
  });
}

function workerOf(config: Config, rt: Runtime): Promise<ClaimWorker> {
  const token = config.githubToken ? config.githubToken : () => resolveGitHubToken();
  return startClaimWorker({
    db: rt.db,
    hostId: rt.hostId,
    dataDir: config.dataDir,
    queue: rt.queue,
    github: (budget) => createGitHubClient({ url: config.githubGraphqlUrl, token, budget }),
    githubReserve: config.githubReserve,
    concurrency: config.workerConcurrency,
    reclaim: { batchSize: config.githubBatchSize, refreshIntervalSeconds: config.refreshIntervalSeconds },
    retention: { seconds: config.retentionDays * 86_400 },
    log: logFn(rt.logger.child({ component: 'worker' })),
  });
}

async function run(config: Config, name: string, parts: { api: boolean; worker: boolean; embedded: boolean }): Promise<Running> {
  if (parts.api) {
    assertSafeBinding(config);
    // before any service starts: a second `ao start` must not start (and leave) services of its own
    await assertPortFree(config.host, config.port);
  }
  const rt = await openRuntime(config, name, parts.embedded);
  let api: ApiServer | null = null;
  let worker: ClaimWorker | null = null;
  const stop = async () => {
    await worker?.close(DRAIN_MS);
    if (api) await settlesWithin(api.close(), API_CLOSE_MS);
    await rt.db.end({ timeout: 5 });
    await rt.services.stop();
  };
  try {
    if (parts.worker) worker = await workerOf(config, rt);
    if (parts.api) api = await apiOf(config, rt).catch((err: unknown) => Promise.reject(portProblem(err, config) ?? err));
  } catch (err) {
    await stop();
    throw err;
  }
  rt.logger.info({ api: api?.url, worker: Boolean(worker) }, `ao ${name} running`);
  return { apiUrl: api?.url ?? null, summary: summaryOf(config, rt, api, worker !== null), worker: worker !== null, stop };
}

export const runStart = (config: Config) => run(config, 'start', { api: true, worker: true, embedded: true });
export const runApi = (config: Config) => run(config, 'api', { api: true, worker: false, embedded: false });
export const runWorker = (config: Config) => run(config, 'worker', { api: false, worker: true, embedded: false });

function summaryOf(config: Config, rt: Runtime, api: ApiServer | null, worker: boolean): Array<[string, string]> {
  const { services } = rt;
  const lines: Array<[string, string]> = [];
  if (api) lines.push(['API', `${api.url}  (OpenAPI: ${api.url}/docs, queues: ${api.url}/admin/queues)`]);
  if (worker) lines.push(['worker', `host ${rt.hostId}, ${config.workerConcurrency} claims at once`]);
  lines.push(['data', config.dataDir]);
  const cluster = services.postgres.origin === 'embedded' ? `, cluster in ${embeddedPostgresDir(config.dataDir)}` : '';
  lines.push(['Postgres', `${services.postgres.origin} (${maskCredentials(services.postgres.url)}${cluster})`]);
  const { backend, reason } = services.queue;
  lines.push(['queues', backend === 'redis' && services.redis ? `Redis ${services.redis.origin} (${maskCredentials(services.redis.url)})` : `Postgres (${reason})`]);
  if (worker) lines.push(['GitHub', `${config.githubGraphqlUrl}${config.githubToken ? '' : ' (token from `gh auth token` when first needed)'}`]);
  return lines;
}

/** Fails with the reason when the API could not listen on AO_HOST:AO_PORT (0: any port will do). */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(portProblem(err, { host, port }) ?? err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function portProblem(err: unknown, where: { host: string; port: number }): Error | null {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  if (code === 'EADDRINUSE') return new Error(`port ${where.port} is in use on ${where.host} (set AO_PORT to another port, or stop what listens there: is ao already running?)`);
  if (code === 'EACCES') return new Error(`not allowed to listen on ${where.host}:${where.port} (ports below 1024 need privileges; set AO_PORT)`);
  if (code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${where.host}: no such address on this machine (AO_HOST)`);
  return null;
}

