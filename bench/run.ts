/**
 * `npm run bench` (SPEC §8, bench/README.md): ao's performance figures and their targets, all
 * measured in one run on this machine, printed as one markdown table and written as JSON to
 * bench/results/<YYYY-MM-DD>-<short commit>.json (`-quick` before `.json` for --quick).
 *
 *   node --import tsx bench/run.ts [--quick] [--split] [--runs N] [--seconds S] [--phases a,b]
 *        [--log-level L] [--worker-concurrency N] [--out FILE] [--profile DIR] [--reclaim-prs N]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { connect } from '../core/db/connect.js';
import { runMigrations } from '../core/db/migrate.js';
import { dropDatabase, ensureDatabase, provideServices, withDatabase } from '../core/services.js';
import { ROOT, startAo, startBareRoute, startGitHubStub, type AoProcess } from './lib/children.js';
import {
  ANCHOR_FRESH_BASE,
  BENCH_HOST,
  FRESH_BASE,
  OWNER,
  PGBENCH_SCRIPT,
  REPO,
  resetRun,
  seed,
  seedSweep,
  snapshotTemplate,
  SWEEP_BASE,
  type SweepSession,
  type Workload,
} from './lib/data.js';
import { makeBenchCheckout } from './lib/workspace.js';
import { RECLAIM_PROJECT, RECLAIM_REPO, reclaimChunks, resetReclaim, runReclaim, seedReclaim, STALE_EVERY, type ReclaimRun } from './lib/reclaim.js';
import { DEFAULT_BATCH_SIZE } from '../worker/github/batch.js';
import { pullRequestsCost } from '../worker/github/query.js';
import { cpuSecondsOf } from './lib/meter.js';
import type { StubCounts } from './lib/github-stub.js';
import {
  runAutocannon,
  runE2eClosed,
  runE2eOpen,
  runNodeClaimPr,
  runNodeSql,
  runPgbench,
  runSweepE2e,
  runSweepSql,
  type HttpResult,
  type LoopResult,
  type OpenLoopResult,
  type PgbenchResult,
} from './lib/drivers.js';
import { Meter, type PhaseUsage } from './lib/meter.js';
import { fmt, ratio, table, type Row } from './lib/report.js';
import { median, medianSummary, round, type LatencySummary } from './lib/stats.js';

// ---------------------------------------------------------------------------------------------
// settings

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    split: { type: 'boolean', default: false },
    runs: { type: 'string' },
    seconds: { type: 'string' },
    phases: { type: 'string' },
    'log-level': { type: 'string' },
    'worker-concurrency': { type: 'string' },
    clients: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'string' },
    'reclaim-prs': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const ALL_PHASES = ['pgbench', 'node', 'claimpr', 'e2e', 'open', 'delayed', 'sweep', 'split', 'pgqueue', 'accept', 'reclaim'] as const;
type Phase = (typeof ALL_PHASES)[number];

if (opts.help) {
  console.log(`usage: node --import tsx bench/run.ts [--quick] [--split] [--runs N] [--seconds S]
       [--phases ${ALL_PHASES.join(',')}] [--log-level L] [--worker-concurrency N] [--out FILE]
       [--clients 1,8,32] [--profile DIR]   (ao's processes write V8 CPU profiles into DIR when they exit)
       [--reclaim-prs N]   (PRs of the batch re-claim; 10,000, --quick 1,000)`);
  process.exit(0);
}

const quick = opts.quick;
const S = {
  quick,
  split: opts.split,
  concurrencies: (opts.clients ?? '1,8,32').split(',').map(Number),
  runs: Number(opts.runs ?? (quick ? 1 : 3)),
  /** one measured closed-loop run (pgbench takes whole seconds) */
  seconds: Number(opts.seconds ?? (quick ? 1 : 5)),
  warmupSeconds: quick ? 0.5 : 2,
  openSeconds: quick ? 2 : 10,
  httpSeconds: quick ? 1 : 5,
  httpConnections: 32,
  sweepSeconds: quick ? 0.5 : 3,
  sweepSizes: [1, 100, 1000],
  delay: { baseMs: 300, jitterMs: 100 },
  workload: quick ? { sessions: 64, takeover: 128, freshPool: 256 } : { sessions: 256, takeover: 512, freshPool: 1024 },
  /** the batch re-claim: PRs, the sessions owning them, and SPEC §8's figure it is judged against (scaled linearly when N differs) */
  reclaim: {
    prs: Number(opts['reclaim-prs'] ?? (quick ? 1000 : 10_000)),
    sessions: quick ? 10 : 100,
    targetPrs: 10_000,
    targetSeconds: 60,
    targetRequests: 500,
    /** whole chunks of 20 per fake instance: 1,000 PRs, ~25 ms of the fake's CPU per request */
    chunksPerFake: 50,
    timeoutMs: 600_000,
  },
  logLevel: opts['log-level'],
  workerConcurrency: opts['worker-concurrency'],
  phases: new Set<Phase>((opts.phases ? opts.phases.split(',') : ALL_PHASES).filter((p): p is Phase => (ALL_PHASES as readonly string[]).includes(p))),
};
const e2eWorkload: Workload = { sessions: S.workload.sessions, takeover: S.workload.takeover, freshPool: S.workload.freshPool, freshBase: FRESH_BASE };
const sqlWorkload: Workload = { ...e2eWorkload, freshPool: null, freshBase: ANCHOR_FRESH_BASE };

const t0 = performance.now();
const say = (message: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// results

interface Measured<T> {
  runs: T[];
  usage: PhaseUsage;
}

interface Results {
  pgbench: Record<number, Measured<PgbenchResult>>;
  node: Record<number, Measured<LoopResult>>;
  claimPr: Record<number, Measured<LoopResult>>;
  e2e: Record<number, Measured<LoopResult>>;
  delayed: Record<number, Measured<LoopResult>>;
  open: Measured<OpenLoopResult> | null;
  split: Measured<LoopResult> | null;
  /** end to end with the queues on BullMQ's PostgreSQL backend (zero-dependency mode), by concurrency */
  pgqueue: Record<number, Measured<LoopResult>>;
  accept: { ao: Measured<HttpResult>; bare: Measured<HttpResult> } | null;
  sweep: Array<{ size: number; sql: LoopResult[]; e2e: LoopResult[] }>;
  hwmMb: Record<string, number | null>;
  github: { warmed: number; warmMs: number; stats: StubCounts | null };
  reclaim: ReclaimResults | null;
  errors: string[];
}

interface ReclaimMeasured {
  /** delayed: ao start with the stand-in's 300 ± 100 ms per request */
  mode: 'start' | 'split' | 'delayed';
  run: ReclaimRun;
  usage: PhaseUsage;
  /** the stand-in's counters over the run (POST → done) */
  github: StubCounts;
  /** ao's budget in Redis (<prefix>:github:budget) after the run */
  budget: Record<string, string>;
  loadavg: { start: string; end: string };
}

interface ReclaimResults {
  prs: number;
  sessions: number;
  stale: number;
  batchSize: number;
  limit: number;
  /** the stand-in's warm-up: one request per chunk through ao's client, the fakes' CPU included */
  warm: { requests: number; ms: number; cpuSeconds: number | null };
  seedMs: number;
  runs: ReclaimMeasured[];
}

const results: Results = {
  pgbench: {},
  node: {},
  claimPr: {},
  e2e: {},
  delayed: {},
  open: null,
  split: null,
  pgqueue: {},
  accept: null,
  sweep: [],
  hwmMb: {},
  github: { warmed: 0, warmMs: 0, stats: null },
  reclaim: null,
  errors: [],
};

function addUsage(into: PhaseUsage | null, u: PhaseUsage): PhaseUsage {
  if (!into) return { ...u, cpuSeconds: { ...u.cpuSeconds }, peakRssMb: { ...u.peakRssMb } };
  into.wallSeconds += u.wallSeconds;
  into.pgTransactions += u.pgTransactions;
  into.redisCommands += u.redisCommands;
  into.machineSeconds += u.machineSeconds;
  for (const [k, v] of Object.entries(u.cpuSeconds)) into.cpuSeconds[k] = (into.cpuSeconds[k] ?? 0) + v;
  for (const [k, v] of Object.entries(u.peakRssMb)) into.peakRssMb[k] = Math.max(into.peakRssMb[k] ?? 0, v);
  return into;
}

// ---------------------------------------------------------------------------------------------
// the run

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | null = null;
const cleanup = (): Promise<void> =>
  (cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const database = `ao_bench_${runId}`;
const prefixBase = `aobench-${runId}`;
const work = mkdtempSync(join(tmpdir(), 'ao-bench-'));
cleanups.push(async () => rmSync(work, { recursive: true, force: true }));

function git(args: string[]): string {
  try {
    return execFileSync('git', ['--no-optional-locks', ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
const loadavg = () => (existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'n/a');
const loadStart = loadavg();
const cpuModel = /^model name\s*:\s*(.+)$/m.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? 'unknown';

say(`ao bench ${quick ? '(quick) ' : ''}at ${commit}${dirty ? ' (work tree modified)' : ''}: ${availableParallelism()} CPUs (${cpuModel}), run ${runId}`);

try {
  // --- services, the database, the GitHub stand-in -------------------------------------------------
  // the figures count Redis commands per claim: the bench's stack runs its queues on Redis
  const services = await provideServices({ env: process.env, dataDir: join(work, 'services'), database: 'postgres', persistent: false, queueBackend: 'redis', log: (m) => say(m) });
  const svc = services;
  const redisService = services.redis;
  if (!redisService) throw new Error('the bench needs a Redis (REDIS_URL, the local one, or redis-server on PATH)');
  cleanups.push(() => svc.stop());
  const adminUrl = services.postgres.adminUrl;
  const benchUrl = withDatabase(adminUrl, database);
  await ensureDatabase(adminUrl, database);
  cleanups.push(() => dropDatabase(adminUrl, database));
  const redis = new Redis(redisService.url, { maxRetriesPerRequest: 2 });
  cleanups.push(async () => {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefixBase}-*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    say(`deleted ${deleted} Redis keys under ${prefixBase}-*`);
    redis.disconnect();
  });

  const numbers = [
    ...Array.from({ length: S.workload.takeover }, (_, k) => k + 1),
    ...Array.from({ length: S.workload.freshPool }, (_, k) => FRESH_BASE + k),
    ...S.sweepSizes.map((_, k) => SWEEP_BASE + k),
  ];
  say(`database ${database} (${services.postgres.origin}), Redis ${redisService.origin}; migrating, and warming the GitHub stand-in with ${numbers.length} PRs`);
  const [github] = await Promise.all([startGitHubStub({ owner: OWNER, repo: REPO, numbers, shardSize: 64 }), runMigrations(benchUrl)]);
  cleanups.push(() => github.stop());
  results.github.warmed = github.warmed;
  results.github.warmMs = github.warmMs;
  say(`GitHub stand-in ready (${github.warmed} answers cached in ${fmt(github.warmMs / 1000, 1)} s)`);

  const db = connect(benchUrl, { max: 4, applicationName: 'ao-bench-setup' });
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  cleanups.push(() => db.end({ timeout: 2 }));
  cleanups.push(() => admin.end({ timeout: 2 }));
  const template = snapshotTemplate(github.snapshot);
  const checkout = await makeBenchCheckout(join(work, 'repo'), `https://github.com/${OWNER}/${REPO}`, numbers);
  await seed(db, e2eWorkload, checkout, template);
  const sweepSessions: SweepSession[] = S.phases.has('sweep') ? await seedSweep(db, S.sweepSizes, checkout, template) : [];
  await checkout.addWorktrees([
    ...Array.from({ length: S.workload.sessions }, (_, k) => `bench-${k + 1}`),
    ...sweepSessions.map((s) => s.sessionId),
  ]);
  say(`seeded ${S.workload.sessions} sessions, ${S.workload.takeover} owned PRs${sweepSessions.length ? `, sweep sessions of ${S.sweepSizes.join('/')} PRs` : ''}`);

  const meter = new Meter(admin, database, redis);
  const scriptPath = join(work, 'claim.pgbench.sql');
  writeFileSync(scriptPath, PGBENCH_SCRIPT);

  interface Plan {
    warm(): Promise<void>;
    runOnce(index: number): Promise<void>;
  }
  /**
   * A figure's measurement: a warm-up (not measured), then `runs` measured runs, each after a
   * data reset, metered. A run that warms up inside itself (pgbench) calls `begin` when its
   * measurement starts. `store` gets the runs once the last one is done.
   */
  function plan<T>(
    label: string,
    warmup: (() => Promise<unknown>) | null,
    once: (begin: () => Promise<void>) => Promise<T>,
    show: (r: T) => string,
    store: (m: Measured<T>) => void,
    options: { reset?: boolean; selfBegin?: boolean; settle?: boolean } = {},
  ): Plan {
    const reset = options.reset ?? true;
    const runs: T[] = [];
    let usage: PhaseUsage | null = null;
    return {
      async warm() {
        if (!warmup) return;
        if (reset) await resetRun(db, e2eWorkload, checkout);
        await warmup();
      },
      async runOnce(r) {
        if (reset) await resetRun(db, e2eWorkload, checkout);
        let begun = false;
        const begin = async () => {
          begun = true;
          await meter.begin({ settle: options.settle ?? false });
        };
        if (!options.selfBegin) await begin();
        const result = await once(begin);
        if (!begun) await begin();
        usage = addUsage(usage, await meter.end());
        runs.push(result);
        say(`${label} run ${r + 1}/${S.runs}: ${show(result)}`);
        if (runs.length === S.runs) {
          store({ runs, usage: usage ?? { wallSeconds: 0, cpuSeconds: {}, peakRssMb: {}, pgTransactions: 0, redisCommands: 0, machineSeconds: 0 } });
        }
      },
    };
  }
  /** the plans' warm-ups, then their runs interleaved (run 1 of each, run 2 of each, …): a drift of the machine hits them alike */
  async function interleave(plans: Plan[]): Promise<void> {
    for (const p of plans) await p.warm();
    for (let r = 0; r < S.runs; r++) for (const p of plans) await p.runOnce(r);
  }
  async function measure<T>(
    label: string,
    warmup: (() => Promise<unknown>) | null,
    once: (begin: () => Promise<void>) => Promise<T>,
    show: (r: T) => string,
    options: { reset?: boolean; selfBegin?: boolean; settle?: boolean } = {},
  ): Promise<Measured<T>> {
    let measured: Measured<T> | null = null;
    await interleave([plan(label, warmup, once, show, (m) => (measured = m), options)]);
    if (!measured) throw new Error(`${label}: nothing measured`);
    return measured;
  }
  const loopLine = (r: LoopResult) =>
    `${fmt(r.rate)} claims/s, p50 ${fmt(r.latencyMs.p50, 2)} ms, p99 ${fmt(r.latencyMs.p99, 2)} ms` +
    `, mix ${r.mix.first}/${r.mix.takeover}/${r.mix.refresh} first/takeover/refresh` +
    (Object.keys(r.failures).length ? `, failures ${JSON.stringify(r.failures)}` : '');

  // --- anchors ---------------------------------------------------------------------------------------
  const processesOf = (extra: Record<string, number> = {}) => ({ github: github.pid, ...extra });
  meter.setProcesses(processesOf());

  // --- ao: the stack as `npm start` runs it (or API and worker apart with --split) ------------------
  const aoEnv = (prefix: string, githubUrl: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AO_') && !['DATABASE_URL', 'REDIS_URL', 'GITHUB_TOKEN', 'GITHUB_GRAPHQL_URL'].includes(k)) env[k] = v;
    return {
      ...env,
      DATABASE_URL: benchUrl,
      REDIS_URL: redisService.url,
      AO_QUEUE_PREFIX: prefix,
      GITHUB_GRAPHQL_URL: githubUrl,
      GITHUB_TOKEN: github.token,
      AO_HOST: '127.0.0.1',
      AO_PORT: '0',
      AO_DATA_DIR: join(work, 'ao-data'),
      // the host the seeded sessions are on (bench/lib/data.ts), so this stack's workers take their claims
      AO_HOST_ID: BENCH_HOST,
      // no scheduled refresh in the middle of a measurement (the re-claim phase makes its own batches)
      AO_REFRESH_INTERVAL: '0',
      // node flags for ao's processes only (e.g. --max-old-space-size=96: bench/README.md, R5)
      ...(process.env.AO_BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.AO_BENCH_NODE_OPTIONS } : {}),
      ...(S.logLevel ? { AO_LOG_LEVEL: S.logLevel } : {}),
      ...(S.workerConcurrency ? { AO_WORKER_CONCURRENCY: S.workerConcurrency } : {}),
    };
  };

  const nodeArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
  interface Stack {
    url: string;
    /** its BullMQ prefix (AO_QUEUE_PREFIX) */
    prefix: string;
    names: Record<string, number>;
    stop(): Promise<void>;
  }
  let stackCount = 0;
  async function startStack(kind: 'start' | 'split' | 'api', githubUrl = github.url, extraEnv: NodeJS.ProcessEnv = {}): Promise<Stack> {
    const tag = `${++stackCount}`;
    const prefix = `${prefixBase}-${tag}`;
    const procs: Array<[string, AoProcess]> = [];
    const stopAll = async () => {
      for (const [name, p] of procs.reverse()) {
        const { hwmMb } = await p.stop();
        results.hwmMb[`${name}#${tag}`] = hwmMb === null ? null : round(hwmMb, 1);
      }
    };
    try {
      const env = { ...aoEnv(prefix, githubUrl), ...extraEnv };
      if (kind === 'start') procs.push(['ao', await startAo('start', env, work, tag, nodeArgs)]);
      else {
        procs.push(['ao-api', await startAo('api', env, work, tag, nodeArgs)]);
        if (kind === 'split') procs.push(['ao-worker', await startAo('worker', env, work, tag, nodeArgs)]);
      }
    } catch (err) {
      await stopAll();
      throw err;
    }
    const url = procs.map(([, p]) => p.url).find((u): u is string => u !== null) ?? '';
    let stopped = false;
    const stack: Stack = {
      url,
      prefix,
      names: Object.fromEntries(procs.map(([name, p]) => [name, p.pid])),
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
    cleanups.push(() => stack.stop());
    say(`ao ${kind === 'start' ? 'start (API + worker in one process, as npm start)' : kind === 'split' ? 'api + ao worker (two processes)' : 'api alone (no worker)'} at ${url}; logs in ${work}`);
    return stack;
  }

  const needsStack = ['e2e', 'open', 'delayed', 'sweep'].some((p) => S.phases.has(p as Phase));
  const hasPgbench = (() => {
    try {
      execFileSync('pgbench', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (S.phases.has('pgbench') && !hasPgbench) results.errors.push('pgbench is not installed: the server-side anchor was skipped');
  if (needsStack || S.phases.has('pgbench') || S.phases.has('node') || S.phases.has('claimpr')) {
    // the stack is up (idle) during the anchors too: the anchors and the end-to-end runs of a
    // concurrency are interleaved, so the ratios compare runs made under the same conditions
    const stack = needsStack ? await startStack(S.split ? 'split' : 'start') : null;
    meter.setProcesses(processesOf(stack?.names ?? {}));
    // one pool per concurrency, of exactly that many connections: pgbench -c N has N connections too
    // (postgres.js hands queries to its idle connections in turn, so a larger pool would spread even
    // one client over every connection)
    const pools = new Map(S.concurrencies.map((c) => [c, connect(benchUrl, { max: c, applicationName: 'ao-bench-node' })]));
    const e2e = (c: number, seconds: number) => runE2eClosed(stack?.url ?? '', e2eWorkload, c, seconds);
    try {
      for (const c of S.concurrencies) {
        const plans: Plan[] = [];
        const pool = pools.get(c) ?? connect(benchUrl, { max: c });
        // the warm-up opens the pool's connections and warms them (ao.claim_pr compiled, its plans cached)
        const warm = S.warmupSeconds * (c >= 32 ? 2 : 1);
        if (S.phases.has('pgbench') && hasPgbench) {
          const vars = { nsessions: sqlWorkload.sessions, ntakeover: sqlWorkload.takeover, freshbase: ANCHOR_FRESH_BASE, nclients: c, i: 0, tmpl: template };
          // each pgbench run warms its own fresh connections first (see runPgbench)
          const run = (begin: () => Promise<void>) =>
            runPgbench({
              url: benchUrl,
              scriptPath,
              clients: c,
              seconds: S.seconds,
              warmupSeconds: quick ? (c >= 32 ? 2 : 1) : 3,
              vars,
              onMeasuring: async (pid) => {
                await begin();
                meter.addPid('pgbench', pid);
              },
            });
          plans.push(plan(`pgbench c=${c}`, null, run, (r) => `${fmt(r.tps)} tps, ${fmt(r.latencyAvgMs, 2)} ms avg`, (m) => (results.pgbench[c] = m), { selfBegin: true }));
        }
        if (S.phases.has('node')) {
          plans.push(
            plan(
              `node-sql c=${c}`,
              () => runNodeSql(pool, sqlWorkload, template, c, warm),
              () => runNodeSql(pool, sqlWorkload, template, c, S.seconds),
              loopLine,
              (m) => (results.node[c] = m),
            ),
          );
        }
        if (S.phases.has('claimpr')) {
          plans.push(
            plan(
              `node-claimPr c=${c}`,
              () => runNodeClaimPr(pool, sqlWorkload, github.snapshot, c, warm),
              () => runNodeClaimPr(pool, sqlWorkload, github.snapshot, c, S.seconds),
              loopLine,
              (m) => (results.claimPr[c] = m),
            ),
          );
        }
        if (stack && (S.phases.has('e2e') || S.phases.has('open'))) {
          plans.push(plan(`e2e c=${c}`, () => e2e(c, S.warmupSeconds), () => e2e(c, S.seconds), loopLine, (m) => (results.e2e[c] = m), { settle: !quick }));
        }
        await interleave(plans);
      }
    } finally {
      for (const pool of pools.values()) await pool.end({ timeout: 2 });
    }
    if (stack) {
      if (S.phases.has('open')) {
        const max = Math.max(...S.concurrencies.map((c) => median((results.e2e[c]?.runs ?? []).map((r) => r.rate))));
        const rate = Math.max(1, max / 2);
        results.open = await measure(
          `open loop at ${fmt(rate)} claims/s (50% of ${fmt(max)})`,
          null,
          () => runE2eOpen(stack.url, e2eWorkload, rate, S.openSeconds),
          (r) => `${loopLine(r)}, max in flight ${r.maxInFlight}${r.abandoned ? `, ${r.abandoned} unfinished` : ''}`,
        );
      }

      if (S.phases.has('delayed')) {
        await github.setDelay(S.delay.baseMs, S.delay.jitterMs);
        const seconds = Math.max(S.seconds, quick ? 1.5 : 6);
        for (const c of S.concurrencies) {
          results.delayed[c] = await measure(`e2e GitHub ${S.delay.baseMs}±${S.delay.jitterMs} ms c=${c}`, () => e2e(c, S.warmupSeconds), () => e2e(c, seconds), loopLine);
        }
        await github.setDelay(0, 0);
      }

      if (S.phases.has('sweep') && sweepSessions.length) {
        const pool = connect(benchUrl, { max: 1, applicationName: 'ao-bench-sweep' });
        try {
          results.sweep = sweepSessions.map((s) => ({ size: s.size, sql: [], e2e: [] }));
          for (const s of sweepSessions) {
            await runSweepSql(pool, s.sessionId, s.pr, template, S.warmupSeconds / 2);
            await runSweepE2e(stack.url, s.sessionId, s.pr, S.warmupSeconds / 2);
          }
          // sizes interleaved within each run, so a drift of the machine hits them alike
          for (let r = 0; r < S.runs; r++) {
            for (const [k, s] of sweepSessions.entries()) {
              const sql = await runSweepSql(pool, s.sessionId, s.pr, template, S.sweepSeconds);
              const e2eRun = await runSweepE2e(stack.url, s.sessionId, s.pr, S.sweepSeconds);
              results.sweep[k]?.sql.push(sql);
              results.sweep[k]?.e2e.push(e2eRun);
              say(`sweep ${s.size} PRs run ${r + 1}/${S.runs}: SQL ${fmt(sql.latencyMs.mean, 3)} ms/claim, e2e ${fmt(e2eRun.latencyMs.mean, 2)} ms/claim (answer ${fmt((e2eRun.answerBytes ?? 0) / 1024)} KiB)`);
            }
          }
        } finally {
          await pool.end({ timeout: 2 });
        }
      }
      await stack.stop();
    }
  }

  if (S.phases.has('split') && !S.split) {
    const stack = await startStack('split');
    meter.setProcesses(processesOf(stack.names));
    results.split = await measure(
      'split api+worker e2e c=32',
      () => runE2eClosed(stack.url, e2eWorkload, 32, S.warmupSeconds),
      () => runE2eClosed(stack.url, e2eWorkload, 32, S.seconds),
      loopLine,
    );
    await stack.stop();
  }

  if (S.phases.has('pgqueue')) {
    // the same stack as E1 with no Redis in the path: BullMQ on Postgres (SPEC §7, zero-dependency mode)
    const stack = await startStack('start', github.url, { AO_QUEUE_BACKEND: 'postgres' });
    meter.setProcesses(processesOf(stack.names));
    for (const c of S.concurrencies) {
      results.pgqueue[c] = await measure(
        `queues on Postgres e2e c=${c}`,
        () => runE2eClosed(stack.url, e2eWorkload, c, S.warmupSeconds),
        () => runE2eClosed(stack.url, e2eWorkload, c, S.seconds),
        loopLine,
      );
    }
    await stack.stop();
  }

  if (S.phases.has('accept')) {
    const httpLine = (r: HttpResult) => `${fmt(r.rps)} 202/s, p50 ${fmt(r.latencyMs.p50, 1)} ms, p99 ${fmt(r.latencyMs.p99, 1)} ms${r.non2xx ? `, ${r.non2xx} non-2xx` : ''}${r.errors ? `, ${r.errors} errors` : ''}`;
    const api = await startStack('api');
    meter.setProcesses(processesOf(api.names));
    const aoRuns = await measure(
      `202 acceptance (ao api, no worker), ${S.httpConnections} connections`,
      () => runAutocannon(api.url, e2eWorkload, S.httpConnections, 1),
      () => runAutocannon(api.url, e2eWorkload, S.httpConnections, S.httpSeconds),
      httpLine,
      { settle: !quick },
    );
    await api.stop();
    const bare = await startBareRoute();
    cleanups.push(() => bare.stop());
    meter.setProcesses(processesOf({ 'bare-route': bare.pid }));
    const bareRuns = await measure(
      `bare fastify route, ${S.httpConnections} connections`,
      () => runAutocannon(bare.url, e2eWorkload, S.httpConnections, 1),
      () => runAutocannon(bare.url, e2eWorkload, S.httpConnections, S.httpSeconds),
      httpLine,
      { reset: false },
    );
    await bare.stop();
    results.accept = { ao: aoRuns, bare: bareRuns };
  }

  if (S.phases.has('reclaim')) {
    // its own stand-in: warmed with the worker's batch requests, which need the item order from
    // the migrated database, and fakes holding whole chunks (github-stub.ts, batch mode)
    const R = S.reclaim;
    const batchSize = DEFAULT_BATCH_SIZE;
    const chunks = await reclaimChunks(db, R.prs, batchSize);
    // the window GitHub gives a token is 5,000 points; a run bigger than what ao's budget may spend
    // of it above its 20% reserve gets a bigger one, so the figure is the re-claim's, not an hour's wait
    const points = chunks.reduce((sum, c) => sum + pullRequestsCost(c.length), 0);
    const limit = Math.max(5000, Math.ceil((points * 1.1) / 0.8));
    const snapshotsPath = join(work, 'reclaim-snapshots.jsonl');
    say(`re-claim: warming a GitHub stand-in with ${chunks.length} batch requests of ${batchSize} (${R.prs} PRs of ${OWNER}/${RECLAIM_REPO}), window ${limit} points`);
    const warmStart = performance.now();
    const stub = await startGitHubStub({ owner: OWNER, repo: RECLAIM_REPO, numbers: [], shardSize: 64, batch: { chunks, chunksPerFake: R.chunksPerFake, limit, snapshotsPath } });
    cleanups.push(() => stub.stop());
    const warmCpu = cpuSecondsOf(stub.pid);
    say(`re-claim stand-in ready: ${stub.warmed} answers cached in ${fmt(stub.warmMs / 1000, 1)} s (its CPU incl. the fakes: ${fmt(warmCpu, 1)} s, ${fmt(((warmCpu ?? 0) * 1000) / Math.max(1, stub.warmed), 1)} ms per request; ${fmt((performance.now() - warmStart) / 1000, 1)} s with startup)`);
    const seedStart = performance.now();
    const data = await seedReclaim(db, checkout.path, checkout.worktreeOf, snapshotsPath, R.sessions);
    const seedMs = performance.now() - seedStart;
    say(`re-claim: seeded ${data.prs} PRs over ${data.sessions} sessions (${data.stale} stale: every ${STALE_EVERY}th) in ${fmt(seedMs / 1000, 1)} s`);
    const reclaim: ReclaimResults = {
      prs: data.prs,
      sessions: data.sessions,
      stale: data.stale,
      batchSize,
      limit,
      warm: { requests: stub.warmed, ms: stub.warmMs, cpuSeconds: warmCpu },
      seedMs,
      runs: [],
    };
    results.reclaim = reclaim;
    // the worker sends one chunk's request at a time, so GitHub's latency adds up per request: the
    // delayed run shows how much (SPEC §8's figure is with GitHub answering at once)
    for (const mode of S.split ? (['split', 'delayed'] as const) : (['start', 'split', 'delayed'] as const)) {
      await resetReclaim(db, data);
      const stack = await startStack(mode === 'split' ? 'split' : S.split ? 'split' : 'start', stub.url);
      await stub.setDelay(mode === 'delayed' ? S.delay.baseMs : 0, mode === 'delayed' ? S.delay.jitterMs : 0);
      try {
        meter.setProcesses({ github: stub.pid, ...stack.names });
        const before = await stub.stats();
        const loadStartRun = loadavg();
        await meter.begin();
        const run = await runReclaim(stack.url, RECLAIM_PROJECT, R.timeoutMs);
        const usage = await meter.end();
        const after = await stub.stats();
        const github = {
          requests: after.requests - before.requests,
          hits: after.hits - before.hits,
          misses: after.misses - before.misses,
          fakeRequests: after.fakeRequests - before.fakeRequests,
          points: after.points - before.points,
        };
        const budget = await redis.hgetall(`${stack.prefix}:github:budget`);
        reclaim.runs.push({ mode, run, usage, github, budget, loadavg: { start: loadStartRun, end: loadavg() } });
        const c = run.counts;
        say(
          `re-claim (${mode === 'start' ? 'ao start' : mode === 'split' ? 'api + worker' : `GitHub ${S.delay.baseMs} ± ${S.delay.jitterMs} ms`}): ${run.state} in ${fmt(run.wallMs / 1000, 1)} s, ` +
            `${c ? `${c.refreshed} refreshed / ${c.unchanged} unchanged / ${c.skipped} skipped / ${c.failed} failed` : 'no counts'}; ` +
            `GitHub ${github.requests} requests (${github.misses} missed the cache), ${github.points} points; ` +
            `peak RSS ${Object.entries(usage.peakRssMb).filter(([k]) => k.startsWith('ao')).map(([k, v]) => `${k} ${fmt(v)} MB`).join(', ')}; load ${loadStartRun} → ${loadavg()}`,
        );
        if (run.state !== 'succeeded') results.errors.push(`re-claim (${mode}): the batch ended ${run.state}: ${JSON.stringify(run.error)}`);
      } finally {
        await stack.stop();
      }
    }
    await stub.setDelay(0, 0);
    await stub.stop();
  }
  results.github.stats = await github.stats();
} catch (err) {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  results.errors.push(message);
  process.stderr.write(`bench failed: ${message}\n`);
} finally {
  say('cleaning up');
  await cleanup();
}

// ---------------------------------------------------------------------------------------------
// the report

const med = (runs: readonly LoopResult[] | undefined, pick: (r: LoopResult) => number) => median((runs ?? []).map(pick));
const pgTps = (c: number) => median((results.pgbench[c]?.runs ?? []).map((r) => r.tps));
const nodeRate = (c: number) => med(results.node[c]?.runs, (r) => r.rate);
const claimPrRate = (c: number) => med(results.claimPr[c]?.runs, (r) => r.rate);
const e2eRate = (c: number) => med(results.e2e[c]?.runs, (r) => r.rate);
const delayedRate = (c: number) => med(results.delayed[c]?.runs, (r) => r.rate);
const lat = (m: Measured<LoopResult> | null | undefined): LatencySummary | null => (m ? medianSummary(m.runs.map((r) => r.latencyMs)) : null);
const cs = S.concurrencies;
const perC = (f: (c: number) => number, digits = 0) => cs.map((c) => fmt(f(c), digits)).join(' / ');
const allAtLeast = (f: (c: number) => number, at: number[], min: number): boolean | null => {
  const v = at.map(f);
  return v.some((x) => !Number.isFinite(x)) ? null : v.every((x) => x >= min);
};

const rows: Row[] = [];
const C = `c=${cs.join('/')}`;
rows.push({ id: 'A1', figure: `claim SQL server-side, pgbench -M prepared, tps (${C})`, measured: perC(pgTps) });
rows.push({ id: 'A2', figure: `same SQL from Node, postgres.js prepared, claims/s (${C})`, measured: perC(nodeRate) });
rows.push({ id: 'A3', figure: `ao's claimPr() (run: null, JSON built in Node), claims/s (${C})`, measured: perC(claimPrRate) });
rows.push({
  id: 'T1',
  figure: `Node / pgbench (${C})`,
  measured: perC((c) => ratio(nodeRate(c), pgTps(c)), 2),
  target: '≥ 0.9 at 8 and 32',
  met: allAtLeast((c) => ratio(nodeRate(c), pgTps(c)), [8, 32], 0.9),
});
rows.push({ id: 'E1', figure: `end to end, GitHub instant, claims/s (${C})`, measured: perC(e2eRate) });
rows.push({
  id: 'E2',
  figure: `end to end POST → done, closed loop, p50 · p99 ms (${C})`,
  measured: cs.map((c) => `${fmt(lat(results.e2e[c])?.p50, 1)} · ${fmt(lat(results.e2e[c])?.p99, 1)}`).join(' / '),
});
const e2eMix = cs.map((c) => results.e2e[c]?.runs.at(-1)?.mix).find((m) => m);
rows.push({
  id: 'T2',
  figure: `end to end / Node (${C})`,
  measured: perC((c) => ratio(e2eRate(c), nodeRate(c)), 2),
  target: '≥ 0.5 at 1; ≥ 0.8 at 8 and 32',
  met: (() => {
    const one = allAtLeast((c) => ratio(e2eRate(c), nodeRate(c)), [1], 0.5);
    const many = allAtLeast((c) => ratio(e2eRate(c), nodeRate(c)), [8, 32], 0.8);
    return one === null || many === null ? null : one && many;
  })(),
});
const segs = (m: Measured<LoopResult> | undefined) => {
  const list = (m?.runs ?? []).map((r) => r.segmentsMs).filter((x) => x !== undefined);
  if (!list.length) return 'n/a';
  return `${fmt(median(list.map((x) => x.accept)), 1)} · ${fmt(median(list.map((x) => x.run)), 1)} · ${fmt(median(list.map((x) => x.notify)), 1)}`;
};
rows.push({
  id: 'E6',
  figure: `where a claim's time goes, medians, ms: POST → 202 · 202 → claim transaction starts (queue, run start, GitHub) · → answer (commit, completion event, job read) (${C})`,
  measured: cs.map((c) => segs(results.e2e[c])).join(' / '),
});
rows.push({ id: 'E3', figure: `end to end / ao's claimPr() (${C})`, measured: perC((c) => ratio(e2eRate(c), claimPrRate(c)), 2) });
rows.push({
  id: 'E4',
  figure: `end to end, GitHub ${S.delay.baseMs} ± ${S.delay.jitterMs} ms, claims/s (${C}); p50 · p99 ms`,
  measured: `${perC(delayedRate, 1)}; ${cs.map((c) => `${fmt(lat(results.delayed[c])?.p50)} · ${fmt(lat(results.delayed[c])?.p99)}`).join(' / ')}`,
});
const openLat = results.open ? medianSummary(results.open.runs.map((r) => r.latencyMs)) : null;
rows.push({
  id: 'T3',
  figure: `open loop at 50% of the max (${fmt(results.open?.runs[0]?.offeredRate)} claims/s offered): p50 · p95 · p99 ms POST → done`,
  measured: openLat ? `${fmt(openLat.p50, 1)} · ${fmt(openLat.p95, 1)} · ${fmt(openLat.p99, 1)}` : 'n/a',
  target: 'p99 ≤ 25 ms',
  met: openLat && Number.isFinite(openLat.p99) ? openLat.p99 <= 25 : null,
});
const acceptRps = median((results.accept?.ao.runs ?? []).map((r) => r.rps));
const bareRps = median((results.accept?.bare.runs ?? []).map((r) => r.rps));
rows.push({
  id: 'T4',
  figure: `202 acceptance (ao api, worker stopped) vs bare fastify route, req/s, autocannon ${S.httpConnections} connections`,
  measured: `${fmt(acceptRps)} vs ${fmt(bareRps)} = ${fmt(ratio(acceptRps, bareRps), 2)}×`,
  target: '≥ 0.5×',
  met: Number.isFinite(ratio(acceptRps, bareRps)) ? ratio(acceptRps, bareRps) >= 0.5 : null,
});
const sweepMean = (k: number, which: 'sql' | 'e2e') => median((results.sweep[k]?.[which] ?? []).map((r) => r.latencyMs.mean));
const sizes = results.sweep.map((s) => s.size);
const lastSweep = results.sweep.length - 1;
rows.push({
  id: 'S1',
  figure: `claim SQL cost, 1 client, session owning ${sizes.join(' / ')} PRs, ms/claim`,
  measured: results.sweep.map((_, k) => fmt(sweepMean(k, 'sql'), 3)).join(' / ') + (lastSweep > 0 ? ` (${fmt(ratio(sweepMean(lastSweep, 'sql'), sweepMean(0, 'sql')), 2)}×)` : ''),
});
const sweepRatio = ratio(sweepMean(lastSweep, 'e2e'), sweepMean(0, 'e2e'));
rows.push({
  id: 'T5',
  figure: `end-to-end claim cost, 1 client, session owning ${sizes.join(' / ')} PRs, ms/claim (job answer KiB)`,
  measured:
    results.sweep.map((s, k) => `${fmt(sweepMean(k, 'e2e'), 2)} (${fmt(median(s.e2e.map((r) => (r.answerBytes ?? 0) / 1024)))})`).join(' / ') +
    ` = ${fmt(sweepRatio, 2)}×`,
  target: `${sizes.at(-1) ?? 1000} within 1.2× of ${sizes[0] ?? 1}`,
  met: Number.isFinite(sweepRatio) ? sweepRatio <= 1.2 : null,
});
const c32 = results.e2e[32]?.usage.peakRssMb;
const d32 = results.delayed[32]?.usage.peakRssMb;
const splitRss = results.split?.usage.peakRssMb ?? (S.split ? c32 : undefined);
const combinedPeak = Math.max(c32?.ao ?? 0, d32?.ao ?? 0) || Number.NaN;
const apiPeak = Math.max(splitRss?.['ao-api'] ?? 0, S.split ? (d32?.['ao-api'] ?? 0) : 0) || Number.NaN;
const workerPeak = Math.max(splitRss?.['ao-worker'] ?? 0, S.split ? (d32?.['ao-worker'] ?? 0) : 0) || Number.NaN;
rows.push({
  id: 'T6',
  figure: 'peak RSS under the 32-client load, MB: api · worker (separate processes); ao start (one process)',
  measured: `${fmt(apiPeak)} · ${fmt(workerPeak)}; ${fmt(combinedPeak)}`,
  target: '≤ 200 MB each',
  met: (() => {
    const each = [apiPeak, workerPeak].filter((v) => Number.isFinite(v));
    if (each.length === 2) return each.every((v) => v <= 200);
    return Number.isFinite(combinedPeak) ? combinedPeak <= 200 : null;
  })(),
});
if (Object.keys(results.pgqueue).length > 0) {
  const pgRate = (c: number) => med(results.pgqueue[c]?.runs, (r) => r.rate);
  rows.push({
    id: 'E7',
    figure: `end to end with the queues on BullMQ's PostgreSQL backend (no Redis), claims/s (${C}); p99 ms; ratio to E1 (Redis)`,
    measured: `${perC(pgRate)}; ${cs.map((c) => fmt(lat(results.pgqueue[c])?.p99, 1)).join(' / ')}; ${perC((c) => ratio(pgRate(c), e2eRate(c)), 2)}`,
  });
}
if (results.split) {
  rows.push({ id: 'E5', figure: 'end to end c=32, API and worker as separate processes, claims/s; p50 · p99 ms', measured: `${fmt(median(results.split.runs.map((r) => r.rate)))}; ${fmt(lat(results.split)?.p50, 1)} · ${fmt(lat(results.split)?.p99, 1)}` });
}

if (results.reclaim) {
  const R = results.reclaim;
  const scale = R.prs / S.reclaim.targetPrs;
  const maxSeconds = S.reclaim.targetSeconds * scale;
  const maxRequests = Math.ceil(S.reclaim.targetRequests * scale);
  const byMode = (mode: ReclaimMeasured['mode']) => R.runs.find((r) => r.mode === mode);
  const start = byMode('start');
  const split = byMode('split');
  const both = [start, split].filter((r): r is ReclaimMeasured => r !== undefined);
  const scaled = R.prs === S.reclaim.targetPrs ? '' : ` (${fmt(R.prs)} PRs here: scaled linearly to ${fmt(maxSeconds, 1)} s)`;
  const wall = (r: ReclaimMeasured | undefined) => (r ? `${fmt(r.run.wallMs / 1000, 1)} s (${fmt(R.prs / (r.run.wallMs / 1000))} PRs/s)` : 'n/a');
  const allOk = both.length > 0 && both.every((r) => r.run.state === 'succeeded');
  rows.push({
    id: 'R1',
    figure: `batch re-claim of ${fmt(R.prs)} PRs (POST /pr/reclaims {projectId} → the long poll says done), wall: ao start; api + worker (load average at the start → end)`,
    measured: `${wall(start)}; ${wall(split)} (load ${both.map((r) => `${r.loadavg.start.split(' ')[0]} → ${r.loadavg.end.split(' ')[0]}`).join('; ')})`,
    target: `≤ ${S.reclaim.targetSeconds} s for ${fmt(S.reclaim.targetPrs)}${scaled}`,
    met: allOk ? both.every((r) => r.run.wallMs / 1000 <= maxSeconds) : null,
  });
  const expected = { refreshed: R.stale, unchanged: R.prs - R.stale, skipped: 0, failed: 0 };
  const countsLine = (r: ReclaimMeasured) => {
    const c = r.run.counts;
    if (!c) return 'n/a';
    const asExpected = c.refreshed === expected.refreshed && c.unchanged === expected.unchanged && c.skipped === 0 && c.failed === 0;
    return `${fmt(c.refreshed)} / ${fmt(c.unchanged)} / ${fmt(c.skipped)} / ${fmt(c.failed)}${asExpected ? '' : ' (NOT as expected)'}`;
  };
  rows.push({
    id: 'R2',
    figure: `re-claim outcomes refreshed / unchanged / skipped / failed (expected ${fmt(expected.refreshed)} / ${fmt(expected.unchanged)} / 0 / 0: every ${STALE_EVERY}th PR changed on GitHub): ao start; api + worker`,
    measured: both.map(countsLine).join('; '),
  });
  rows.push({
    id: 'R3',
    figure: `GitHub requests during the re-claim (${R.batchSize} PRs per request; the stand-in's count, misses = not answered from its cache): ao start; api + worker`,
    measured: both.map((r) => `${fmt(r.github.requests)} (${fmt(r.github.misses)} misses)`).join('; '),
    target: `≤ ${S.reclaim.targetRequests} for ${fmt(S.reclaim.targetPrs)}${R.prs === S.reclaim.targetPrs ? '' : ` (here ≤ ${fmt(maxRequests)})`}`,
    met: allOk ? both.every((r) => r.github.requests <= maxRequests) : null,
  });
  const budgetLine = (r: ReclaimMeasured) => {
    const remaining = Number(r.budget.remaining);
    const limit = Number(r.budget.limit);
    return `${fmt(r.github.points)} points${Number.isFinite(remaining) && Number.isFinite(limit) ? ` (ao's budget after: ${fmt(remaining)} of ${fmt(limit)} left)` : ''}`;
  };
  rows.push({
    id: 'R4',
    figure: `GitHub points spent (the answers' rateLimit.cost, summed; window ${fmt(R.limit)}, reserve 20%): ao start; api + worker`,
    measured: both.map(budgetLine).join('; '),
  });
  const api = split?.usage.peakRssMb['ao-api'];
  const worker = split?.usage.peakRssMb['ao-worker'];
  const one = start?.usage.peakRssMb.ao;
  rows.push({
    id: 'R5',
    figure: 'peak RSS during the re-claim, MB: api · worker (separate processes); ao start (one process)',
    measured: `${fmt(api)} · ${fmt(worker)}; ${fmt(one)}`,
    target: '≤ 200 MB each',
    met: api !== undefined && worker !== undefined ? api <= 200 && worker <= 200 : one !== undefined ? one <= 200 : null,
  });
  const perPr = (r: ReclaimMeasured | undefined) => {
    if (!r) return 'n/a';
    const order = ['ao', 'ao-api', 'ao-worker', 'postgres', 'redis', 'github', 'bench', 'postgres-aux'];
    const cpu = order
      .filter((k) => r.usage.cpuSeconds[k] !== undefined)
      .map((k) => `${k} ${fmt(((r.usage.cpuSeconds[k] ?? 0) * 1000) / R.prs, 2)}`)
      .join(' · ');
    const busy = (r.usage.machineSeconds / r.usage.wallSeconds) * 100;
    return `${cpu} (Postgres ${fmt(r.usage.pgTransactions / R.prs, 1)} transactions, Redis ${fmt(r.usage.redisCommands / R.prs, 2)} commands per PR; machine ${fmt(busy)}% busy of ${availableParallelism() * 100}%)`;
  };
  rows.push({ id: 'R6', figure: 'CPU ms per re-claimed PR, by process: ao start; api + worker', measured: `${perPr(start)}; ${perPr(split)}` });
  const delayed = byMode('delayed');
  rows.push({
    id: 'R7',
    figure: `the same re-claim with GitHub answering in ${S.delay.baseMs} ± ${S.delay.jitterMs} ms (${S.split ? 'api + worker' : 'ao start'}; up to 4 requests in flight, so ≈ requests × latency / 4)`,
    measured: delayed
      ? `${wall(delayed)}, ${fmt(delayed.github.requests)} requests, ${fmt((delayed.run.wallMs / Math.max(1, delayed.github.requests)), 0)} ms per request${delayed.run.state === 'succeeded' ? '' : ` (${delayed.run.state})`}`
      : 'n/a',
  });
}

/** CPU ms per claim of a phase, per process group */
const perClaim = (m: Measured<LoopResult> | undefined): string => {
  if (!m) return 'n/a';
  const claims = m.runs.reduce((a, r) => a + r.claims, 0);
  const order = ['ao', 'ao-api', 'ao-worker', 'postgres', 'redis', 'github', 'bench', 'postgres-aux'];
  return order
    .filter((k) => m.usage.cpuSeconds[k] !== undefined)
    .map((k) => `${k} ${fmt(((m.usage.cpuSeconds[k] ?? 0) * 1000) / Math.max(1, claims), 2)}`)
    .join(' · ');
};
/** Postgres transactions and Redis commands per claim of a phase */
const roundTrips = (m: Measured<LoopResult> | undefined): string => {
  if (!m) return 'n/a';
  const claims = Math.max(1, m.runs.reduce((a, r) => a + r.claims, 0));
  return `Postgres ${fmt(m.usage.pgTransactions / claims, 1)} transactions · Redis ${fmt(m.usage.redisCommands / claims, 1)} commands`;
};
rows.push({ id: 'C1', figure: 'CPU ms per claim, end to end c=32 (GitHub instant)', measured: perClaim(results.e2e[32]) });
rows.push({ id: 'C2', figure: 'CPU ms per claim, end to end c=1', measured: perClaim(results.e2e[1]) });
if (results.split) rows.push({ id: 'C3', figure: 'CPU ms per claim, split api+worker c=32', measured: perClaim(results.split) });
rows.push({ id: 'C6', figure: `round trips per claim, end to end c=1 / c=32 (Redis: server-wide count${quick ? '; approximate: --quick does not wait for the Postgres counters to settle' : ''})`, measured: `${roundTrips(results.e2e[1])} / ${roundTrips(results.e2e[32])}` });
const pgbenchCpu = results.pgbench[32];
if (pgbenchCpu) {
  const tx = pgbenchCpu.runs.reduce((a, r) => a + r.transactions, 0);
  rows.push({
    id: 'C4',
    figure: 'CPU ms per claim, pgbench c=32',
    measured: ['postgres', 'pgbench', 'postgres-aux'].map((k) => `${k} ${fmt(((pgbenchCpu.usage.cpuSeconds[k] ?? 0) * 1000) / Math.max(1, tx), 2)}`).join(' · '),
  });
}
if (results.accept) {
  const { ao: aoAccept, bare } = results.accept;
  const per = (m: Measured<HttpResult>, keys: string[]) => {
    const answers = Math.max(1, m.runs.reduce((a, r) => a + r.rps * r.seconds, 0));
    return keys.map((k) => `${k} ${fmt(((m.usage.cpuSeconds[k] ?? 0) * 1000) / answers, 3)}`).join(' · ');
  };
  const answers = Math.max(1, aoAccept.runs.reduce((a, r) => a + r.rps * r.seconds, 0));
  rows.push({
    id: 'C7',
    figure: 'CPU ms per 202: ao api alone; bare route (bench = autocannon)',
    measured:
      `${per(aoAccept, ['ao-api', 'postgres', 'redis', 'bench'])}; ${per(bare, ['bare-route', 'bench'])}` +
      ` (ao: Postgres ${fmt(aoAccept.usage.pgTransactions / answers, 1)} transactions, Redis ${fmt(aoAccept.usage.redisCommands / answers, 1)} commands per 202)`,
  });
}
const cpuTotals: Record<string, number> = {};
const groups: Array<Record<number, { usage: PhaseUsage }>> = [results.pgbench, results.node, results.claimPr, results.e2e, results.delayed];
for (const group of groups) {
  for (const m of Object.values(group)) for (const [k, v] of Object.entries(m.usage.cpuSeconds)) cpuTotals[k] = (cpuTotals[k] ?? 0) + v;
}
for (const m of [results.open, results.split, results.accept?.ao, results.accept?.bare, ...(results.reclaim?.runs ?? [])]) {
  if (m) for (const [k, v] of Object.entries(m.usage.cpuSeconds)) cpuTotals[k] = (cpuTotals[k] ?? 0) + v;
}
rows.push({
  id: 'C5',
  figure: 'CPU seconds per process over all measured runs',
  measured: Object.entries(cpuTotals)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v, 1)}`)
    .join(' · '),
});
{
  let machine = 0;
  let ours = 0;
  const all: Array<{ usage: PhaseUsage }> = [...groups.flatMap((g) => Object.values(g))];
  for (const m of [results.open, results.split, results.accept?.ao, results.accept?.bare, ...(results.reclaim?.runs ?? [])]) if (m) all.push(m);
  for (const m of all) {
    machine += m.usage.machineSeconds;
    ours += Object.values(m.usage.cpuSeconds).reduce((a, b) => a + b, 0);
  }
  rows.push({
    id: 'N1',
    figure: 'noise: machine CPU seconds during the measured runs not spent by the processes above (other users of the machine, kernel)',
    measured: `${fmt(Math.max(0, machine - ours), 1)} of ${fmt(machine, 1)} busy CPU seconds; load average ${loadStart} at the start, ${loadavg()} at the end`,
  });
}
rows.push({
  id: 'W',
  figure: 'workload',
  measured:
    `${S.workload.sessions} sessions, ${S.workload.takeover} owned PRs (${S.workload.takeover / S.workload.sessions} each), ` +
    `alternating takeover / first claim (last e2e run: ${e2eMix ? `${e2eMix.first} first, ${e2eMix.takeover} takeovers, ${e2eMix.refresh} refreshes` : 'n/a'}); ` +
    `${S.runs} run(s) × ${S.seconds} s per figure after a ${S.warmupSeconds} s warm-up, medians; ao ${S.split ? 'api + worker' : 'start'}, AO_LOG_LEVEL ${S.logLevel ?? 'info (default)'}, AO_WORKER_CONCURRENCY ${S.workerConcurrency ?? '16 (default)'}; ` +
    `GitHub stand-in: ${results.github.stats ? `${fmt(results.github.stats.requests)} requests, ${fmt(results.github.stats.misses - results.github.warmed)} not answered from its cache after the warm-up` : 'n/a'}`,
});

const wallSeconds = (performance.now() - t0) / 1000;
const output = table(rows);
console.log(`\n## ao bench — ${new Date().toISOString().slice(0, 10)}, ${commit}${dirty ? ' (modified)' : ''}${quick ? ', --quick' : ''}\n`);
console.log(`${availableParallelism()} CPUs (${cpuModel}), ${fmt(totalmem() / 2 ** 30)} GiB, Node ${process.version}; wall time ${fmt(wallSeconds)} s\n`);
console.log(output);
if (results.errors.length) console.log(`\nerrors:\n${results.errors.map((e) => `- ${e.split('\n')[0]}`).join('\n')}`);

const outDir = join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const outPath = opts.out ?? join(outDir, `${new Date().toISOString().slice(0, 10)}-${commit}${quick ? '-quick' : ''}.json`);
writeFileSync(
  outPath,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      commit,
      dirty,
      quick,
      wallSeconds: round(wallSeconds, 1),
      machine: { cpus: availableParallelism(), cpuModel, memGiB: round(totalmem() / 2 ** 30, 1), node: process.version },
      settings: { ...S, phases: [...S.phases] },
      table: rows,
      results,
      errors: results.errors,
    },
    (_k, v: unknown) => (typeof v !== 'number' ? v : Number.isFinite(v) ? round(v, 4) : null),
    2,
  ) + '\n',
);
say(`wrote ${outPath}`);
process.exit(results.errors.some((e) => !e.startsWith('pgbench is not installed')) ? 1 : 0);
