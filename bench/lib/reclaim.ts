import { readFileSync } from 'node:fs';
import type postgres from 'postgres';
import type { PrSnapshot } from '../../core/domain.js';
import { parsePrRef } from '../../core/pr-ref.js';
import type { PullRequestRef } from '../../worker/github/client.js';
import { BENCH_HOST, OWNER } from './data.js';
import { HttpClient } from './http.js';
import { sleep } from './stats.js';

/**
 * The batch re-claim phase's data (SPEC §6, §8 "batch re-claim of 10,000 PRs"): project `reclaim`
 * (origin github.com/Acme/Reclaim, its own repository so its PR numbers meet no other phase's),
 * `sessions` active worker sessions owning PRs #1 … #N round-robin. Every PR is stored with the
 * very snapshot the GitHub stand-in answers (made by ao's own client during the stand-in's
 * warm-up), except every STALE_EVERY-th PR by number, which is stored as it was before its CI
 * finished: an older updatedAt, another title, ci pending and both checks in progress. So a
 * re-claim finds exactly N / STALE_EVERY PRs `refreshed` and the rest `unchanged`.
 *
 * The worker reads the batch's items in URL order (ao.create_reclaim_items numbers them by
 * `order by url`), 20 per request: `reclaimChunks` asks Postgres for that order, so the stand-in
 * is warmed with exactly the requests the worker will make.
 */

export const RECLAIM_PROJECT = 'reclaim';
export const RECLAIM_REPO = 'Reclaim';
export const STALE_EVERY = 10;

export const reclaimUrl = (n: number) => `https://github.com/${OWNER.toLowerCase()}/${RECLAIM_REPO.toLowerCase()}/pull/${n}`;
export const isStale = (n: number) => n % STALE_EVERY === 0;

/** The worker's requests: PRs #1 … #n in the order Postgres sorts their URLs, `batchSize` a request, refs as the worker parses them. */
export async function reclaimChunks(db: postgres.Sql, n: number, batchSize: number): Promise<PullRequestRef[][]> {
  const urls = Array.from({ length: n }, (_, k) => reclaimUrl(k + 1));
  const sorted = await db<Array<{ url: string }>>`select u as url from unnest(${urls}::text[]) u order by u`;
  const refs = sorted.map(({ url }) => {
    const ref = parsePrRef(url);
    if (ref.kind !== 'full') throw new Error(`not a full PR URL: ${url}`);
    return { owner: ref.owner, repo: ref.repo, number: ref.number };
  });
  const chunks: PullRequestRef[][] = [];
  for (let k = 0; k < refs.length; k += batchSize) chunks.push(refs.slice(k, k + batchSize));
  return chunks;
}

/** What the store held before CI finished on GitHub: the re-claim must bring it up to date. */
function staleOf(snapshot: PrSnapshot): PrSnapshot {
  const updated = snapshot.providerUpdatedAt ? new Date(Date.parse(snapshot.providerUpdatedAt) - 3600_000).toISOString() : null;
  return {
    ...snapshot,
    title: `${snapshot.title} (before CI finished)`,
    ci: 'pending',
    providerUpdatedAt: updated,
    checks: snapshot.checks.map((c) => ({ ...c, status: 'in_progress', conclusion: '' })),
  };
}

export interface ReclaimData {
  prs: number;
  sessions: number;
  stale: number;
  /** the stale snapshots, to put back before each run */
  staleRows: Array<{ url: string; session_id: string; snapshot: PrSnapshot }>;
}

const APPLY = (rows: string) => `select count(ao.apply_pr_snapshot(x.url, x.session_id, '${RECLAIM_PROJECT}', x.snapshot, (x.snapshot ->> 'observedAt')::timestamptz))::integer as n
  from jsonb_to_recordset(${rows}) as x (url text, session_id text, snapshot jsonb)`;

async function applyAll(db: postgres.Sql, rows: Array<{ url: string; session_id: string; snapshot: PrSnapshot }>): Promise<void> {
  for (let k = 0; k < rows.length; k += 500) {
    await db.unsafe(APPLY('$1::text::jsonb'), [JSON.stringify(rows.slice(k, k + 500))]);
  }
}

/**
 * Project, sessions and PRs, written directly through ao.apply_pr_snapshot (the claim's own
 * write) and ao.refresh_pr_doc, not one claim at a time: seeding 10,000 PRs must not take longer
 * than re-claiming them.
 */
export async function seedReclaim(db: postgres.Sql, projectPath: string, worktreeOf: (prefix: string) => string, snapshotsPath: string, sessions: number): Promise<ReclaimData> {
  const snapshots = readFileSync(snapshotsPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as PrSnapshot);
  await db`insert into ao.projects (id, path, repo_url, default_branch, session_seq, host)
    values (${RECLAIM_PROJECT}, ${projectPath}, ${`https://github.com/${OWNER}/${RECLAIM_REPO}`}, 'main', ${sessions}, ${BENCH_HOST})`;
  // no worktrees: a re-claim keeps every owner and never touches a workspace
  await db`insert into ao.sessions (id, project_id, num, kind, state, branch, workspace_path, host)
    select ${RECLAIM_PROJECT} || '-' || n, ${RECLAIM_PROJECT}, n, 'worker', 'active', 'ao/' || ${RECLAIM_PROJECT} || '-' || n || '/root',
      ${worktreeOf(`${RECLAIM_PROJECT}-`)} || n, ${BENCH_HOST}
    from generate_series(1, ${sessions}::integer) n`;
  const ownerOf = (n: number) => `${RECLAIM_PROJECT}-${((n - 1) % sessions) + 1}`;
  const rows = snapshots.map((s) => {
    const stale = isStale(s.number);
    return { url: reclaimUrl(s.number), session_id: ownerOf(s.number), snapshot: stale ? staleOf(s) : s, stale };
  });
  await applyAll(db, rows);
  await db`select count(ao.refresh_pr_doc(url)) from ao.pull_requests where project_id = ${RECLAIM_PROJECT}`;
  await db`analyze`;
  const staleRows = rows.filter((r) => r.stale).map(({ url, session_id, snapshot }) => ({ url, session_id, snapshot }));
  return { prs: rows.length, sessions, stale: staleRows.length, staleRows };
}

/** Before each run: the stale PRs stale again, the previous batch's jobs gone, no dirty buffers left. */
export async function resetReclaim(db: postgres.Sql, data: ReclaimData): Promise<void> {
  await db`delete from ao.jobs where kind = 'reclaim_batch'`; // its items go with it (on delete cascade)
  await applyAll(db, data.staleRows);
  await db`select count(ao.refresh_pr_doc(url)) from ao.pull_requests where project_id = ${RECLAIM_PROJECT} and ci = 'pending'`;
  await db`vacuum analyze ao.jobs, ao.pull_requests, ao.pr_checks, ao.pr_docs`;
  await db`checkpoint`;
}

export interface ReclaimCounts {
  refreshed: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

export interface ReclaimRun {
  jobId: string;
  state: string;
  /** POST sent → the long poll's answer that the batch is done, client clock */
  wallMs: number;
  /** POST → 202 */
  acceptMs: number;
  counts: ReclaimCounts | null;
  /** the job's own times (Postgres clock): createdAt → finishedAt */
  jobMs: number | null;
  /** progress.done sampled about every second, ms after the POST */
  progress: Array<{ ms: number; done: number }>;
  error: unknown;
}

interface JobAnswer {
  state: string;
  progress: { done: number; total: number } | null;
  result: { counts?: ReclaimCounts } | null;
  error: unknown;
  createdAt: string;
  finishedAt: string | null;
}

const unfinished = new Set(['queued', 'running', 'compensating']);

/**
 * One batch re-claim end to end: POST /api/v1/pr/reclaims {projectId} → 202 {jobId}, then the
 * job long-polled until it is done; beside it a GET every second records the progress (one
 * cheap read a second is no load worth counting).
 */
export async function runReclaim(apiUrl: string, projectId: string, timeoutMs: number): Promise<ReclaimRun> {
  const http = new HttpClient(apiUrl, 2);
  try {
    const t0 = performance.now();
    const posted = await http.send('POST', '/api/v1/pr/reclaims', JSON.stringify({ projectId }));
    const acceptMs = performance.now() - t0;
    if (posted.status !== 202) throw new Error(`POST /api/v1/pr/reclaims: ${posted.status} ${posted.text.slice(0, 300)}`);
    const { jobId } = JSON.parse(posted.text) as { jobId: string };
    const progress: Array<{ ms: number; done: number }> = [];
    let finished = false;
    const sampler = (async () => {
      while (!finished) {
        await sleep(1000);
        if (finished) break;
        const reply = await http.send('GET', `/api/v1/jobs/${jobId}`);
        if (reply.status === 200) progress.push({ ms: performance.now() - t0, done: (JSON.parse(reply.text) as JobAnswer).progress?.done ?? 0 });
      }
    })();
    let job: JobAnswer | null = null;
    try {
      for (;;) {
        if (performance.now() - t0 > timeoutMs) throw new Error(`the batch ${jobId} was not done after ${timeoutMs / 1000} s (${job?.progress?.done ?? '?'} PRs done)`);
        const reply = await http.send('GET', `/api/v1/jobs/${jobId}?wait=30`);
        if (reply.status !== 200) throw new Error(`GET /api/v1/jobs/${jobId}: ${reply.status} ${reply.text.slice(0, 300)}`);
        job = JSON.parse(reply.text) as JobAnswer;
        if (!unfinished.has(job.state)) break;
      }
    } finally {
      finished = true;
    }
    const wallMs = performance.now() - t0;
    await sampler;
    progress.push({ ms: wallMs, done: job.progress?.done ?? 0 });
    return {
      jobId,
      state: job.state,
      wallMs,
      acceptMs,
      counts: job.result?.counts ?? null,
      jobMs: job.finishedAt ? Date.parse(job.finishedAt) - Date.parse(job.createdAt) : null,
      progress,
      error: job.error,
    };
  } finally {
    http.close();
  }
}
