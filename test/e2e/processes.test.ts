import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../core/domain.js';
import { embeddedPostgresDir } from '../../core/services.js';
import { startFakeGitHub, type FakeGitHub } from '../fake-github/index.js';
import { ProcessTree } from '../support/process-tree.js';
import { makeCheckout } from '../support/stack.js';
import { testQueueBackend } from '../support/env.js';

/**
 * Signals and shutdown of `ao start` (./bin/run.js start, and `npm start`) on embedded services
 * (AO_SERVICES=embedded: a service keeper with Postgres, and redis-server on the Redis backend, under it): a signal at
 * startup, while idle and mid-claim, SIGKILL, and a second instance. After each, no process that
 * ran under ao survives. One data dir serves every case (initdb once).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const onRedis = testQueueBackend() === 'redis';
const bin = join(root, 'bin', 'run.js');

let github: FakeGitHub;
let checkout: { path: string; remove(): Promise<void> };
let home: string;
let dataDir: string;
const trees: ProcessTree[] = [];

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'cli', 'commands'))) throw new Error('the CLI is not built: run `npm run build` (npm test does)');
  if (onRedis && spawnSync('redis-server', ['--version']).error) throw new Error('on the Redis backend these tests need `redis-server` on PATH (apt-get install redis-server)');
  github = await startFakeGitHub();
  checkout = await makeCheckout();
  home = await mkdtemp(join(tmpdir(), 'ao-processes-'));
  dataDir = join(home, 'data');
});

afterAll(async () => {
  for (const tree of trees) tree.killLeft(); // only when a test failed half-way
  await github?.close();
  await checkout?.remove();
  if (dataDir) await rm(dirname(embeddedPostgresDir(dataDir)), { recursive: true, force: true });
  if (home) await rm(home, { recursive: true, force: true });
});

interface Ao {
  child: ChildProcess;
  tree: ProcessTree;
  stderr(): string;
  /** resolves with the match once stderr matches */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: home,
    AO_SERVICES: 'embedded',
    // the run's backend: on Redis a redis-server under the keeper, on Postgres none (zero-dependency mode)
    AO_QUEUE_BACKEND: testQueueBackend(),
    AO_PORT: '0',
    AO_DATA_DIR: dataDir,
    AO_LOG_LEVEL: 'warn',
    GITHUB_GRAPHQL_URL: github.url,
    GITHUB_TOKEN: github.token,
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

/** `ao start` in a process group of its own (as a terminal would run it), its tree sampled as it runs */
function startAo(how: 'bin' | 'npm', extra: Record<string, string> = {}): Ao {
  const child =
    how === 'bin'
      ? spawn(process.execPath, [bin, 'start'], { env: env(extra), detached: true })
      : spawn('npm', ['start', '--silent'], { cwd: root, env: env(extra), detached: true });
  const tree = new ProcessTree(child.pid as number);
  trees.push(tree);
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const w of [...waiters]) w();
  });
  child.stdout?.resume();
  const sampler = setInterval(() => tree.sample(), 50);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      clearInterval(sampler);
      resolve({ code, signal });
    });
  });
  return {
    child,
    tree,
    stderr: () => stderr,
    exit,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stderr);
          if (!match) return;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
        waiters.push(check);
        void exit.then(() => {
          check();
          clearTimeout(timer);
          reject(new Error(`ao exited before ${pattern}:\n${stderr}`));
        });
        check();
      });
    },
  };
}

async function apiUrl(ao: Ao): Promise<string> {
  const [, url] = await ao.waitFor(/API on (http:\/\/[\d.:]+)/);
  return url as string;
}

async function http<T>(url: string, method: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const isKeeper = (cmdline: string) => cmdline.includes('service-keeper');
const DRAIN_LINE = /^ao: stopping \((SIGINT|SIGTERM)\): draining in-flight claims \(up to 10 s, then they go back to the queue\); Ctrl-C again to exit at once$/m;

describe('ao start on embedded services: signals and shutdown', { timeout: 90_000 }, () => {
  let jobId: string;

  it('SIGINT during startup: startup finishes, everything stops, exit 0', async () => {
    const ao = startAo('bin');
    // the keeper is starting Postgres (initdb: this is the data dir's first start)
    await until('the service keeper', async () => (ao.tree.sample().some((p) => isKeeper(p.cmdline)) ? true : null));
    expect(ao.stderr()).not.toContain('API on');
    ao.child.kill('SIGINT');
    expect(await ao.exit).toEqual({ code: 0, signal: null });
    expect(ao.stderr()).toMatch(/^ao: stopping \(SIGINT\) as soon as startup is done; Ctrl-C again to exit at once$/m);
    expect(ao.stderr()).not.toContain('API on');
    expect([...ao.tree.seen.values()].some((p) => isKeeper(p.cmdline))).toBe(true);
    await ao.tree.allGone(15_000);
  });

  it('npm start, Ctrl-C mid-claim (the terminal signals npm and ao): drains, releases the claim, exit 0', async () => {
    const ao = startAo('npm');
    const api = await apiUrl(ao);
    expect((await http(`${api}/api/v1/projects`, 'POST', { path: checkout.path, id: 'widgets' })).status).toBe(201);
    github.addPullRequest('Acme', 'Widgets', { number: 1, rollupState: 'SUCCESS', contexts: [{ kind: 'CheckRun', name: 'build' }] });
    const session = (await http<{ id: string }>(`${api}/api/v1/sessions`, 'POST', { projectId: 'widgets' })).body.id;
    const hold = github.holdRequests();
    try {
      const requests = github.stats.requests;
      const claim = await http<{ jobId: string }>(`${api}/api/v1/sessions/${session}/pr/claim`, 'POST', { pr: '1' });
      expect(claim.status).toBe(202);
      jobId = claim.body.jobId;
      await github.waitForRequests(requests + 1, 20_000); // the worker is at GitHub, held there
      const running = await http<Job>(`${api}/api/v1/jobs/${jobId}`, 'GET');
      expect(running.body.state).toBe('running');
      const tree = ao.tree.sample();
      expect(tree.some((p) => isKeeper(p.cmdline))).toBe(true);
      expect(tree.some((p) => p.cmdline.startsWith('redis-server'))).toBe(onRedis);

      // Ctrl-C: the whole foreground group (npm and ao) gets SIGINT, and npm relays one more
      process.kill(-(ao.child.pid as number), 'SIGINT');
      await ao.waitFor(DRAIN_LINE, 5000);
      expect(await ao.exit).toEqual({ code: 0, signal: null });
      expect(ao.stderr().match(/^ao: stopping/gm)).toHaveLength(1);
      expect(ao.stderr()).not.toContain('exiting now');
      await ao.tree.allGone(15_000);
    } finally {
      hold.release();
    }
  });

  it('after a restart the released claim runs at once; a second ao start is refused; SIGTERM while idle: exit 0', async () => {
    const ao = startAo('bin');
    const api = await apiUrl(ao);
    // the drain handed the claim back to the queue (running → queued) instead of leaving it running
    const events = await http<{ events: Array<{ type: string; key: string; before: { state?: string } | null; after: { state?: string } | null }> }>(
      `${api}/api/v1/events?limit=1000`,
      'GET',
    );
    const released = events.body.events.filter((e) => e.type === 'job_updated' && e.key === jobId && e.before?.state === 'running');
    expect(released.map((e) => e.after?.state)).toContain('queued');
    // …so this worker takes it now, not after a lock of the stopped one expires
    const done = await until('the released claim to finish', async () => {
      const { body } = await http<Job>(`${api}/api/v1/jobs/${jobId}?wait=5`, 'GET');
      return body.state === 'running' || body.state === 'queued' ? null : body;
    }, 15_000);
    expect(done.state).toBe('succeeded');

    // a second ao start: on the same port, or on the same data dir
    const port = new URL(api).port;
    const samePort = startAo('bin', { AO_PORT: port });
    expect((await samePort.exit).code).toBe(1);
    expect(samePort.stderr()).toContain(`ao: port ${port} is in use on 127.0.0.1 (set AO_PORT to another port, or stop what listens there: is ao already running?)`);
    const sameDir = startAo('bin');
    expect((await sameDir.exit).code).toBe(1);
    expect(sameDir.stderr()).toMatch(/^ao: the embedded services in .* are in use by another ao \(service keeper pid \d+\)/m);
    await samePort.tree.allGone(5000);
    await sameDir.tree.allGone(15_000);
    expect((await http(`${api}/readyz`, 'GET')).status).toBe(200); // the first one is unharmed

    // the embedded cluster's password is its own, random, and readable by its owner only
    const passwordFile = join(dirname(embeddedPostgresDir(dataDir)), 'postgres.password');
    const password = (await readFile(passwordFile, 'utf8')).trim();
    expect(password).toMatch(/^[0-9a-f]{32,}$/);
    expect((await stat(passwordFile)).mode & 0o077).toBe(0);

    ao.tree.sample();
    ao.child.kill('SIGTERM');
    await ao.waitFor(DRAIN_LINE, 5000);
    expect(await ao.exit).toEqual({ code: 0, signal: null });
    await ao.tree.allGone(15_000);
  });

  it('SIGKILL: the keeper stops Postgres and Redis by itself', async () => {
    const ao = startAo('bin');
    await apiUrl(ao);
    const tree = ao.tree.sample();
    expect(tree.filter((p) => isKeeper(p.cmdline) || p.cmdline.startsWith('redis-server') || p.cmdline.includes('postgres')).length).toBeGreaterThan(2);
    ao.child.kill('SIGKILL');
    expect(await ao.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await ao.tree.allGone(20_000);
  });
});
