import type { Job as BullJob } from 'bullmq';
import type { Pool } from '../core/db/connect.js';
import { ReclaimRequest, type PrSnapshot } from '../core/domain.js';
import { AoError } from '../core/errors.js';
import { parsePrRef } from '../core/pr-ref.js';
import { ClaimJobData } from '../core/queue.js';
import { FenceLost } from '../core/store/claim-pr.js';
import { startJobRun, type JobRun, type RunLimits } from '../core/store/jobs.js';
import {
  createReclaimItems,
  finishReclaimBatch,
  finishReclaimItems,
  nextReclaimItems,
  reclaimPr,
  reportReclaimProgress,
  type FinishedItem,
  type ReclaimItem,
} from '../core/store/reclaims.js';
import { asJobError, isTransient } from './failure.js';
import { holdLease } from './lease.js';
import type { PrBatchSource, PrRef } from './pr-source.js';

export interface ReclaimProcessorDeps {
  db: Pool;
  github: PrBatchSource;
  /** PRs per GitHub request (AO_GITHUB_BATCH_SIZE) */
  batchSize: number;
  limits: RunLimits;
  /** claim transactions of one chunk run side by side (each takes its own PR's lock) */
  applyConcurrency?: number;
  /** chunks whose GitHub requests may be in flight at once (default 4, the budget's slots per token) */
  fetchAhead?: number;
  /** GitHub attempts per chunk before its items fail */
  maxFetchAttempts?: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * A batch re-claim (SPEC §6): one fenced run of the reclaim_batch parent works through its items
 * in chunks of `batchSize` — one GitHub request per chunk (aliases), then one transaction per PR
 * (ao.reclaim_pr: the claim's per-PR lock and stale-snapshot order, the owner kept) — and reports
 * progress after each chunk. A run that dies is taken over by the next one through the fence,
 * which resumes with the items still queued; a cancel fences the run out and cancels the rest.
 * When GitHub's budget (or its rate limit) holds batch work back, the run waits for the reset and
 * its step says until when.
 */
export function createReclaimProcessor(deps: ReclaimProcessorDeps) {
  return async (job: BullJob<ClaimJobData>, _token?: string, shutdown?: AbortSignal): Promise<{ jobId: string; outcome: string }> => {
    const { jobId } = ClaimJobData.parse(job.data);
    const started = await startJobRun(deps.db, jobId, deps.limits, 'selecting the PRs');
    if (started.outcome !== 'run') return { jobId, outcome: started.outcome };
    const run: JobRun = started;
    const lease = holdLease(deps.db, run, deps.limits.leaseMs);
    const signal = shutdown ? AbortSignal.any([shutdown, lease.signal]) : lease.signal;
    try {
      await runBatch(deps, run, signal);
      return { jobId, outcome: 'succeeded' };
    } catch (err) {
      // a shutdown leaves the run to lapse: the next run resumes with the unfinished items
      if (err instanceof FenceLost || lease.signal.aborted || shutdown?.aborted) return { jobId, outcome: 'fenced' };
      throw err;
    } finally {
      lease.stop();
    }
  };
}

async function runBatch(deps: ReclaimProcessorDeps, run: JobRun, signal: AbortSignal): Promise<void> {
  const request = ReclaimRequest.parse(run.request);
  const total = await createReclaimItems(deps.db, run);
  if (total === null) throw new FenceLost(run.jobId, run.run);
  deps.log('batch re-claim started', { jobId: run.jobId, total, selector: request.selector });
  let done = 0;
  const step = new BatchStep(() => `re-claiming PRs (${done} done of ${total})`);
  // A pipeline of GitHub requests: up to `fetchAhead` chunks' requests are in flight while the
  // oldest fetched chunk's transactions run, so the batch costs about max(GitHub latency / depth,
  // Postgres) per chunk rather than their sum. The work list is read by item id (a cursor), so
  // later chunks are known before earlier ones are done. The first request goes alone: its answer
  // tells the shared budget where GitHub's window stands before more are admitted.
  let depth = 1;
  const inFlight: Array<{ items: ReclaimItem[]; fetched: Promise<FetchedChunk> }> = [];
  let cursor: string | null = null;
  let listed = false;
  const refill = async () => {
    while (!listed && inFlight.length < depth) {
      const items = await nextReclaimItems(deps.db, run.jobId, cursor, deps.batchSize);
      if (items.length === 0) {
        listed = true;
        return;
      }
      cursor = items[items.length - 1]?.id ?? cursor;
      const fetched = fetchChunk(deps, run, items, signal, step);
      // awaited in turn below; until then a failure must not count as unhandled
      fetched.catch(() => {});
      inFlight.push({ items, fetched });
    }
  };
  await refill();
  for (let next = inFlight.shift(); next; next = inFlight.shift()) {
    signal.throwIfAborted();
    const chunk = await next.fetched;
    depth = Math.max(1, deps.fetchAhead ?? 4);
    await refill();
    await applyChunk(deps, run, chunk);
    done += next.items.length;
    if (!(await reportReclaimProgress(deps.db, run, step.now()))) throw new FenceLost(run.jobId, run.run);
  }
  if ((await finishReclaimBatch(deps.db, run)) === null) throw new FenceLost(run.jobId, run.run);
}

/**
 * What the batch says it does: its progress, unless a request in flight is waiting (for GitHub's
 * budget, or to retry), which the step says instead for as long as it waits — the progress report
 * of the chunk being applied meanwhile must not hide it.
 */
class BatchStep {
  private waiting: string | null = null;
  constructor(private readonly progress: () => string) {}
  now(): string {
    return this.waiting ?? this.progress();
  }
  /** `why` until `wait` ends */
  async during<T>(why: string, report: (step: string) => Promise<void>, wait: () => Promise<T>): Promise<T> {
    this.waiting = why;
    await report(why);
    try {
      return await wait();
    } finally {
      this.waiting = null;
      await report(this.now()).catch(() => {});
    }
  }
}

interface FetchedChunk {
  /** items with a snapshot to apply */
  apply: Array<{ item: ReclaimItem; snapshot: PrSnapshot }>;
  /** items that end without one: skipped:<reason> or failed:<code> */
  finished: FinishedItem[];
}

/** One GitHub request for a chunk of items (patient: see fetchWithPatience); per item, a snapshot or the reason it has none. */
async function fetchChunk(
  deps: ReclaimProcessorDeps,
  run: JobRun,
  items: ReclaimItem[],
  signal: AbortSignal,
  step: BatchStep,
): Promise<FetchedChunk> {
  const chunk: FetchedChunk = { apply: [], finished: [] };
  const fetchable: Array<{ item: ReclaimItem; ref: PrRef }> = [];
  for (const item of items) {
    const ref = refOf(item.pr);
    if (ref) fetchable.push({ item, ref });
    else chunk.finished.push({ id: item.id, outcome: 'skipped:invalid-ref', error: null });
  }
  const fetched = await fetchWithPatience(deps, run, fetchable.map((f) => f.ref), signal, step);
  for (const [k, { item }] of fetchable.entries()) {
    const answer = fetched.ok ? fetched.items[k] : undefined;
    if (answer?.ok) {
      chunk.apply.push({ item, snapshot: answer.snapshot });
      continue;
    }
    const error = answer && !answer.ok ? answer.error : fetched.ok ? new AoError('INTERNAL_ERROR', 'GitHub gave no answer for this PR') : fetched.error;
    chunk.finished.push({ id: item.id, outcome: `failed:${error.code}`, error: error.toBody() });
  }
  return chunk;
}

/** The chunk's transactions, side by side (each takes its own PR's lock), then its items without a snapshot in one statement. */
async function applyChunk(deps: ReclaimProcessorDeps, run: JobRun, chunk: FetchedChunk): Promise<void> {
  const finished = [...chunk.finished];
  const applies = chunk.apply.map(({ item, snapshot }) => async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        const applied = await reclaimPr(deps.db, run, item.id, snapshot);
        if ('fenced' in applied) throw new FenceLost(run.jobId, run.run);
        return;
      } catch (err) {
        if (err instanceof FenceLost) throw err;
        const error = asJobError(err);
        if (isTransient(error) && attempt < 3) continue;
        finished.push({ id: item.id, outcome: `failed:${error.code}`, error: error.toBody() });
        return;
      }
    }
  });
  await inParallel(applies, deps.applyConcurrency ?? 8);
  if ((await finishReclaimItems(deps.db, run, finished)) === null) throw new FenceLost(run.jobId, run.run);
}

type ChunkFetch = { ok: true; items: Awaited<ReturnType<PrBatchSource['fetchPullRequests']>>['items'] } | { ok: false; error: AoError };

/**
 * One GitHub request for a chunk, waiting out the budget and rate limits (the step says until
 * when) and retrying transient failures; a permanent failure (or the last transient one) fails
 * the chunk's items with its code, and the batch goes on.
 */
async function fetchWithPatience(
  deps: ReclaimProcessorDeps,
  run: JobRun,
  refs: PrRef[],
  signal: AbortSignal,
  step: BatchStep,
): Promise<ChunkFetch> {
  if (refs.length === 0) return { ok: true, items: [] };
  const maxAttempts = deps.maxFetchAttempts ?? 4;
  const report = async (text: string) => {
    if (!(await reportReclaimProgress(deps.db, run, text))) throw new FenceLost(run.jobId, run.run);
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return { ok: true, items: (await deps.github.fetchPullRequests(refs, { signal, batchSize: deps.batchSize })).items };
    } catch (err) {
      signal.throwIfAborted();
      const until = heldBackUntil(err);
      if (until) {
        deps.log('batch re-claim waits for the GitHub budget', { jobId: run.jobId, until });
        await step.during(`waiting for GitHub's rate limit until ${until}`, report, () => waitUntil(until, signal));
        attempt--; // waiting for the budget is no failed attempt
        continue;
      }
      const error = asJobError(err);
      if (isTransient(error) && attempt < maxAttempts) {
        const backoff = new Date(Date.now() + Math.min(250 * 2 ** attempt, 5000)).toISOString();
        await step.during(`retrying GitHub (attempt ${attempt + 1} of ${maxAttempts}) after: ${error.message}`, report, () => waitUntil(backoff, signal));
        continue;
      }
      return { ok: false, error };
    }
  }
}

/** When GitHub's budget or rate limit lets batch work go on again; null for any other failure. */
function heldBackUntil(err: unknown): string | null {
  if (err instanceof AoError && err.code === 'SCM_RATE_LIMITED') {
    const retryAt = err.details?.retryAt;
    return typeof retryAt === 'string' ? retryAt : new Date(Date.now() + 60_000).toISOString();
  }
  if (err instanceof Error && 'until' in err && typeof err.until === 'string') return err.until;
  return null;
}

function refOf(url: string): PrRef | null {
  try {
    const ref = parsePrRef(url);
    return ref.kind === 'number' ? null : { owner: ref.owner, repo: ref.repo, number: ref.number };
  } catch {
    return null;
  }
}

async function inParallel(tasks: Array<() => Promise<void>>, concurrency: number): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  });
  await Promise.all(lanes);
}

function waitUntil(iso: string, signal: AbortSignal): Promise<void> {
  const ms = Math.min(Math.max(Date.parse(iso) - Date.now(), 0), 3600_000);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', abort, { once: true });
  });
}
