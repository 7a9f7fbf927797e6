import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startApiServer, type ApiServer } from '../../api/server.js';
import type { Job } from '../../core/domain.js';
import { TERMINAL_JOB_STATES } from '../../core/domain.js';
import { openQueueConnection, type QueueSettings } from '../../core/queue.js';
import { startClaimWorker, type ClaimWorker } from '../../worker/claim-worker.js';
import { createGitHubClient } from '../../worker/github/client.js';
import { startHostWorker, type HostWorker } from '../../worker/host-worker.js';
import { startFakeGitHub, type FakeGitHub } from '../fake-github/index.js';
import { createTestDatabase, testQueueSettings, type TestDatabase } from './env.js';
import { TEST_HOST_ID } from './fixtures.js';
import { servePullRefs } from './pull-refs-origin.js';

/**
 * The whole pipeline for one test file: a fresh database, a private Redis prefix, the fake
 * GitHub over HTTP, the API on a free port and (optionally) a claim worker, all in this process.
 */
export interface Stack {
  api: string;
  github: FakeGitHub;
  db: TestDatabase;
  queue: QueueSettings;
  dataDir: string;
  http<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpReply<T>>;
  startWorker(options?: {
    lockDurationMs?: number;
    sweep?: { intervalMs: number; staleSeconds: number };
    /** the scheduled refresh of live sessions' PRs (default 0: off, so no test sees batches it did not make) */
    refreshIntervalSeconds?: number;
  }): Promise<ClaimWorker>;
  stopWorker(): Promise<void>;
  /**
   * A stack without a claim worker still has its host's git work done (sessions made and
   * removed, checkouts inspected) by a host worker of its own; tests that want another process to
   * do that work stop it first.
   */
  stopHostWorker(): Promise<void>;
  startHostWorker(): Promise<void>;
  /** the running worker (throws when none runs) */
  worker(): ClaimWorker;
  /** polls GET /jobs/{id}?wait until the job is finished (deadline: timeoutMs) */
  waitForJob(jobId: string, timeoutMs?: number): Promise<Job>;
  close(): Promise<void>;
}

export interface HttpReply<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface StackOptions {
  worker?: boolean;
  apiToken?: string | null;
  retry?: { attempts: number; delayMs: number };
  githubToken?: string;
  provisionalLeaseSeconds?: number;
  /** how long the API waits for a host's worker (default 30 s) */
  hostWaitMs?: number;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const db = await createTestDatabase();
  const github = await startFakeGitHub();
  const dataDir = await mkdtemp(join(tmpdir(), 'ao-stack-'));
  const queue: QueueSettings = testQueueSettings(db.url, options.retry ?? { attempts: 4, delayMs: 50 });
  const api: ApiServer = await startApiServer({
    db: db.sql,
    queue,
    hostId: TEST_HOST_ID,
    apiToken: options.apiToken ?? null,
    host: '127.0.0.1',
    port: 0,
    provisionalLeaseSeconds: options.provisionalLeaseSeconds ?? 600,
    ...(options.hostWaitMs === undefined ? {} : { hostWaitMs: options.hostWaitMs }),
  });
  let worker: ClaimWorker | null = null;
  let hostWorker: HostWorker | null = null;
  const log = process.env.AO_TEST_LOG ? (m: string, f?: Record<string, unknown>) => console.error(m, f) : () => {};

  const stack: Stack = {
    api: api.url,
    github,
    db,
    queue,
    dataDir,
    async http<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${api.url}${path}`, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
    },
    async startWorker(workerOptions = {}) {
      // a second one would leak: nothing would ever stop the first
      if (worker) throw new Error('a worker is already running: stopWorker() first');
      worker = await startClaimWorker({
        db: db.sql,
        hostId: TEST_HOST_ID,
        dataDir,
        queue,
        github: (budget) => createGitHubClient({ url: github.url, token: options.githubToken ?? github.token, budget }),
        concurrency: 16,
        lockDurationMs: workerOptions.lockDurationMs ?? 30_000,
        stalledIntervalMs: workerOptions.lockDurationMs ?? 30_000,
        sweep: workerOptions.sweep ?? { intervalMs: 60_000, staleSeconds: 60 },
        reclaim: { refreshIntervalSeconds: workerOptions.refreshIntervalSeconds ?? 0 },
        log,
      });
      return worker;
    },
    worker() {
      if (!worker) throw new Error('no worker is running');
      return worker;
    },
    async stopWorker() {
      await worker?.close(1000);
      worker = null;
    },
    async startHostWorker() {
      if (hostWorker) return;
      const connection = openQueueConnection(queue, 'worker', db.sql);
      const started = await startHostWorker({ db: db.sql, hostId: TEST_HOST_ID, dataDir, connection, log });
      hostWorker = {
        async close() {
          await started.close();
          await connection.close();
        },
      };
    },
    async stopHostWorker() {
      await hostWorker?.close();
      hostWorker = null;
    },
    async waitForJob(jobId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = Math.ceil((deadline - Date.now()) / 1000);
        const { status, body } = await stack.http<Job>('GET', `/api/v1/jobs/${jobId}?wait=${Math.max(1, Math.min(left, 10))}`);
        if (status !== 200) throw new Error(`GET job ${jobId}: ${status} ${JSON.stringify(body)}`);
        if (TERMINAL_JOB_STATES.has(body.state)) return body;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body.state} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
      }
    },
    async close() {
      await stack.stopWorker();
      await stack.stopHostWorker();
      await api.close();
      await github.close();
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  if (options.worker !== false) await stack.startWorker();
  else await stack.startHostWorker();
  return stack;
}

/** A git checkout whose origin is a GitHub URL (never fetched), with one commit on main. */
/** PR numbers every checkout's origin serves `refs/pull/<n>/head` for (see makeCheckout). */
export const CHECKOUT_PR_NUMBERS = 3000;
const FAKE_REPO_URL = 'https://github.com/Acme/Widgets.git';

/**
 * A project checkout as a user has it: `main` with one commit, and `origin` named as GitHub
 * (`originUrl`, what ao reads as the project's repoUrl) but fetched from a local bare repository
 * (servePullRefs, for `originUrl` and for the fake's repository URL) serving `refs/pull/<n>/head`
 * for every n up to CHECKOUT_PR_NUMBERS. `originUrl` '' gives a checkout without a remote.
 */
export async function makeCheckout(originUrl = FAKE_REPO_URL): Promise<{ path: string; origin: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'ao-checkout-'));
  const origin = `${await mkdtemp(join(tmpdir(), 'ao-origin-'))}/origin.git`;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=ao-test', '-c', 'user.email=test@ao.invalid', ...args], { cwd, stdio: 'pipe' }).toString().trim();
  git(path, 'init', '-q', '-b', 'main');
  git(path, 'commit', '-q', '--allow-empty', '-m', 'initial');
  await servePullRefs({
    checkout: path,
    origin,
    urls: [originUrl, FAKE_REPO_URL].filter(Boolean),
    numbers: Array.from({ length: CHECKOUT_PR_NUMBERS }, (_, k) => k + 1),
  });
  if (originUrl) git(path, 'remote', 'add', 'origin', originUrl);
  return {
    path,
    origin,
    remove: async () => {
      await rm(path, { recursive: true, force: true });
      await rm(dirname(origin), { recursive: true, force: true });
    },
  };
}
