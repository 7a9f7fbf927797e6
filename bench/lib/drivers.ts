import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import type postgres from 'postgres';
import type { PrSnapshot } from '../../core/domain.js';
import type { Pool } from '../../core/db/connect.js';
import { claimPr } from '../../core/store/claim-pr.js';
import { nodeClaimStatement, pickClaim, SWEEP_STATEMENT, type Intent, type Workload } from './data.js';
import { HttpClient } from './http.js';
import { median, sleep, summarize, type LatencySummary } from './stats.js';

export type ClaimKind = 'first' | 'takeover' | 'refresh';
/** where one end-to-end claim's time went, ms (client clock and Postgres clock: the same host) */
interface Segments {
  /** POST sent → 202 received */
  accept: number;
  /** 202 received → the claim transaction starts (the job's finishedAt: now() of that transaction) */
  run: number;
  /** → the finished job received by the long poll (the claim's commit, BullMQ's completion event, the job read) */
  notify: number;
}
type Outcome = { kind: ClaimKind; bytes?: number; segments?: Segments } | { failure: string };

export interface LoopResult {
  clients: number;
  seconds: number;
  claims: number;
  /** completed claims per second */
  rate: number;
  latencyMs: LatencySummary;
  mix: Record<ClaimKind, number>;
  failures: Record<string, number>;
  /** mean size of the final job answer (end to end only) */
  answerBytes?: number;
  /** medians of where the time of a claim went (end to end only) */
  segmentsMs?: Segments;
}

function collect(clients: number, seconds: number, latencies: number[], outcomes: Outcome[]): LoopResult {
  const mix: Record<ClaimKind, number> = { first: 0, takeover: 0, refresh: 0 };
  const failures: Record<string, number> = {};
  let bytes = 0;
  let sized = 0;
  const segments: Segments[] = [];
  for (const o of outcomes) {
    if ('failure' in o) failures[o.failure] = (failures[o.failure] ?? 0) + 1;
    else {
      mix[o.kind]++;
      if (o.bytes !== undefined) {
        bytes += o.bytes;
        sized++;
      }
      if (o.segments) segments.push(o.segments);
    }
  }
  const segmentsMs = segments.length
    ? {
        accept: median(segments.map((x) => x.accept)),
        run: median(segments.map((x) => x.run)),
        notify: median(segments.map((x) => x.notify)),
      }
    : undefined;
  const claims = latencies.length;
  return {
    clients,
    seconds,
    claims,
    rate: claims / seconds,
    latencyMs: summarize(latencies),
    mix,
    failures,
    ...(sized ? { answerBytes: bytes / sized } : {}),
    ...(segmentsMs ? { segmentsMs } : {}),
  };
}

/**
 * N closed-loop clients, each doing `once` back to back for `seconds`. Only what completes
 * within the window counts (rate and latencies); what is in flight at its end is awaited and
 * dropped.
 */
async function closedLoop(clients: number, seconds: number, once: (client: number, i: number) => Promise<Outcome>): Promise<LoopResult> {
  const latencies: number[] = [];
  const outcomes: Outcome[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 1; performance.now() < end; i++) {
        const t = performance.now();
        let outcome: Outcome;
        try {
          outcome = await once(client, i);
        } catch (err) {
          outcome = { failure: err instanceof Error ? err.message.slice(0, 80) : String(err) };
        }
        const done = performance.now();
        if (done > end) break;
        outcomes.push(outcome);
        if (!('failure' in outcome)) latencies.push(done - t);
      }
    }),
  );
  return collect(clients, seconds, latencies, outcomes);
}

// ---------------------------------------------------------------------------------------------
// anchors: the claim SQL server-side (pgbench) and from Node (postgres.js, prepared)

export interface PgbenchResult {
  clients: number;
  seconds: number;
  tps: number;
  latencyAvgMs: number;
  transactions: number;
  failed: number;
}

/**
 * One pgbench run of `warmupSeconds + seconds` with a progress line per second (-P 1); the
 * figures are the mean of the last `seconds` intervals. The warm-up inside the run matters: each
 * pgbench run opens new connections, whose first calls compile ao.claim_pr and plan its queries
 * (tens of ms per backend, a whole second for 32 of them on 2 cores), while the Node pools are
 * warm from their warm-up run.
 */
export async function runPgbench(opts: {
  url: string;
  scriptPath: string;
  clients: number;
  seconds: number;
  warmupSeconds: number;
  vars: Record<string, string | number>;
  /** called when the warm-up is over, with pgbench's pid: where the metering of the run begins */
  onMeasuring?: (pid: number) => Promise<void>;
}): Promise<PgbenchResult> {
  const seconds = Math.max(1, Math.round(opts.seconds));
  const warmup = Math.max(1, Math.round(opts.warmupSeconds));
  const args = ['-n', '-M', 'prepared', '-c', String(opts.clients), '-j', String(opts.clients), '-T', String(warmup + seconds + 1), '-P', '1'];
  args.push('-f', opts.scriptPath);
  for (const [k, v] of Object.entries(opts.vars)) args.push('-D', `${k}=${v}`);
  args.push(opts.url);
  const child = spawn('pgbench', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  let measuring: Promise<void> = Promise.resolve();
  const counting = setTimeout(() => {
    if (child.pid && opts.onMeasuring) measuring = opts.onMeasuring(child.pid);
  }, warmup * 1000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  clearTimeout(counting);
  await measuring;
  const intervals = [...out.matchAll(/progress: ([0-9.]+) s, ([0-9.]+) tps, lat ([0-9.]+) ms/g)]
    .map((m) => ({ at: Number(m[1]), tps: Number(m[2]), lat: Number(m[3]) }))
    // the last interval of a run is not always reported: one spare second, and the first `seconds` after the warm-up
    .filter((i) => i.at > warmup + 0.01)
    .slice(0, seconds);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  if (code !== 0 || intervals.length === 0) throw new Error(`pgbench failed (${code}): ${out.trim().split('\n').slice(-5).join(' | ')}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const tps = mean(intervals.map((i) => i.tps));
  return {
    clients: opts.clients,
    seconds: intervals.length,
    tps,
    latencyAvgMs: mean(intervals.map((i) => i.lat)),
    transactions: Math.round(tps * intervals.length),
    failed: num(/number of failed transactions: (\d+)/) || 0,
  };
}

interface ClaimReply {
  ok: boolean;
  previousOwner?: string | null;
  error?: { code: string };
}

const replyKind = (reply: ClaimReply, sessionId: string): Outcome => {
  if (!reply.ok) return { failure: reply.error?.code ?? 'refused' };
  if (reply.previousOwner === null || reply.previousOwner === undefined) return { kind: 'first' };
  return { kind: reply.previousOwner === sessionId ? 'refresh' : 'takeover' };
};

/** The pgbench statement, sent by postgres.js as a prepared statement with the same parameters. */
export function runNodeSql(pool: postgres.Sql, w: Workload, template: string, clients: number, seconds: number): Promise<LoopResult> {
  const { text, params } = nodeClaimStatement();
  return closedLoop(clients, seconds, async (client, i) => {
    const pick = pickClaim(w, client, clients, i);
    const values: Record<string, string | number> = { s: pick.session, p: pick.pr, tmpl: template };
    const [row] = await pool.unsafe<Array<{ reply: ClaimReply }>>(text, params.map((name) => values[name] ?? null), { prepare: true });
    return replyKind(row?.reply ?? { ok: false }, `bench-${pick.session}`);
  });
}

/** ao's own store function (core/store/claim-pr.ts) with `run: null`: the snapshot built and sent as JSON from Node. */
export function runNodeClaimPr(pool: Pool, w: Workload, snapshot: PrSnapshot, clients: number, seconds: number): Promise<LoopResult> {
  return closedLoop(clients, seconds, async (client, i) => {
    const pick = pickClaim(w, client, clients, i);
    const sessionId = `bench-${pick.session}`;
    const { previousOwner } = await claimPr(pool, {
      run: null,
      sessionId,
      allowTakeover: true,
      snapshot: { ...snapshot, number: pick.pr, headBranch: `feature/${pick.pr}`, observedAt: new Date().toISOString() },
    });
    return { kind: previousOwner === null ? 'first' : previousOwner === sessionId ? 'refresh' : 'takeover' };
  });
}

// ---------------------------------------------------------------------------------------------
// end to end: POST /api/v1/sessions/{id}/pr/claim → 202 → GET /api/v1/jobs/{id}?wait=10 → done

const TERMINAL = new Set(['succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled']);

interface JobAnswer {
  state: string;
  finishedAt: string | null;
  error: { code: string } | null;
  result: { takenOverFrom?: string[] } | null;
}

async function e2eClaim(http: HttpClient, sessionId: string, pr: number, intent: Intent): Promise<Outcome> {
  const sent = Date.now();
  const posted = await http.send('POST', `/api/v1/sessions/${sessionId}/pr/claim`, JSON.stringify({ pr: String(pr) }));
  const accepted = Date.now();
  if (posted.status !== 202) return { failure: `POST ${posted.status}` };
  const { jobId } = JSON.parse(posted.text) as { jobId: string };
  for (let polls = 0; polls < 10; polls++) {
    const got = await http.send('GET', `/api/v1/jobs/${jobId}?wait=10`);
    if (got.status !== 200) return { failure: `GET ${got.status}` };
    const job = JSON.parse(got.text) as JobAnswer;
    if (!TERMINAL.has(job.state)) continue;
    if (job.state !== 'succeeded') return { failure: job.error?.code ?? job.state };
    const answered = Date.now();
    const takenOver = (job.result?.takenOverFrom?.length ?? 0) > 0;
    const finished = job.finishedAt ? Date.parse(job.finishedAt) : Number.NaN;
    return {
      kind: takenOver ? 'takeover' : intent === 'first' ? 'first' : 'refresh',
      bytes: got.text.length,
      segments: { accept: accepted - sent, run: finished - accepted, notify: answered - finished },
    };
  }
  return { failure: 'still running after 100 s' };
}

export async function runE2eClosed(apiUrl: string, w: Workload, clients: number, seconds: number): Promise<LoopResult> {
  const http = new HttpClient(apiUrl, clients + 2);
  try {
    return await closedLoop(clients, seconds, (client, i) => {
      const pick = pickClaim(w, client, clients, i);
      return e2eClaim(http, `bench-${pick.session}`, pick.pr, pick.intent);
    });
  } finally {
    http.close();
  }
}

export interface OpenLoopResult extends LoopResult {
  offeredRate: number;
  maxInFlight: number;
  /** claims still unfinished 15 s after the window (not in the latencies) */
  abandoned: number;
}

/**
 * Open loop: claims start at a steady `rate` (evenly spaced) whatever is still in flight; each
 * latency is measured from the claim's scheduled start, so a stalled server cannot hide its
 * queueing (no coordinated omission).
 */
export async function runE2eOpen(apiUrl: string, w: Workload, rate: number, seconds: number): Promise<OpenLoopResult> {
  const http = new HttpClient(apiUrl, 512);
  const latencies: number[] = [];
  const outcomes: Outcome[] = [];
  const total = Math.max(1, Math.round(rate * seconds));
  const interval = 1000 / rate;
  let inFlight = 0;
  let maxInFlight = 0;
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  try {
    for (let k = 0; k < total; k++) {
      const due = started + k * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      // a virtual client per arrival slot (32 of them): the same alternation as the closed loops
      const pick = pickClaim(w, k % 32, 32, Math.floor(k / 32) + 1);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const p: Promise<void> = e2eClaim(http, `bench-${pick.session}`, pick.pr, pick.intent)
        .catch((err: unknown) => ({ failure: err instanceof Error ? err.message.slice(0, 80) : String(err) }))
        .then((outcome) => {
          inFlight--;
          outcomes.push(outcome);
          if (!('failure' in outcome)) latencies.push(performance.now() - due);
          pending.delete(p);
        });
      pending.add(p);
    }
    const deadline = sleep(15_000).then(() => 'timeout' as const);
    await Promise.race([Promise.all(pending), deadline]);
    const result = collect(1, seconds, latencies, outcomes);
    return { ...result, clients: 0, rate: latencies.length / ((performance.now() - started) / 1000), offeredRate: rate, maxInFlight, abandoned: pending.size };
  } finally {
    http.close();
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP-only: 202 acceptance vs the bare fastify route, both under autocannon

export interface HttpResult {
  connections: number;
  seconds: number;
  /** 2xx answers per second */
  rps: number;
  latencyMs: { p50: number; p99: number; mean: number };
  non2xx: number;
  errors: number;
}

export async function runAutocannon(url: string, w: Workload, connections: number, seconds: number): Promise<HttpResult> {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          const session = 1 + Math.floor(Math.random() * w.sessions);
          const pr = 1 + Math.floor(Math.random() * w.takeover);
          return { ...req, path: `/api/v1/sessions/bench-${session}/pr/claim`, body: JSON.stringify({ pr: String(pr) }) };
        },
      },
    ],
  });
  return {
    connections,
    seconds,
    rps: result['2xx'] / result.duration,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean },
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

// ---------------------------------------------------------------------------------------------
// the session-size sweep: one client refreshing its session's PR, back to back

export function runSweepSql(pool: postgres.Sql, sessionId: string, pr: number, template: string, seconds: number): Promise<LoopResult> {
  return closedLoop(1, seconds, async () => {
    const [row] = await pool.unsafe<Array<{ reply: ClaimReply }>>(SWEEP_STATEMENT, [sessionId, template, pr], { prepare: true });
    return replyKind(row?.reply ?? { ok: false }, sessionId);
  });
}

export async function runSweepE2e(apiUrl: string, sessionId: string, pr: number, seconds: number): Promise<LoopResult> {
  const http = new HttpClient(apiUrl, 2);
  try {
    return await closedLoop(1, seconds, () => e2eClaim(http, sessionId, pr, 'takeover'));
  } finally {
    http.close();
  }
}
