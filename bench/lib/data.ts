import type postgres from 'postgres';
import type { PrSnapshot } from '../../core/domain.js';
import type { BenchCheckout } from './workspace.js';

/**
 * The bench's data and its claim workload, shared by every driver (pgbench, Node, end to end) so
 * that all of them claim the same PRs for the same sessions in the same mix.
 *
 *  - project `bench` (origin github.com/Acme/Widgets) with `sessions` active worker sessions
 *    `bench-1` … `bench-<sessions>`, inserted by SQL, each with a real worktree (workspace.ts);
 *  - the takeover pool: PRs Acme/Widgets#1 … #<takeover>, owned round-robin by the sessions at
 *    the start of every run (a few PRs each);
 *  - fresh PRs (no row yet): from FRESH_BASE on for the end-to-end drivers (they must exist in
 *    the fake GitHub: a pool of `freshPool`), from ANCHOR_FRESH_BASE on for the SQL anchors (any
 *    number: the snapshot comes from the template);
 *  - every client alternates a takeover (a random session claims a random takeover-pool PR, i.e.
 *    almost always one another session owns) with a first claim (a random session claims a fresh
 *    PR no-one claimed before in this run): 50% first claims, ~50% takeovers (a few refreshes,
 *    when the random session already owns the PR).
 *
 * Before every measured run `resetRun` puts the data back: fresh PRs deleted, the takeover pool
 * handed back to its initial owners, then a CHECKPOINT so no run pays for its predecessor's dirty
 * buffers.
 */

export const PROJECT = 'bench';
/** the host id of the bench's sessions and of the ao it starts */
export const BENCH_HOST = 'bench';
export const OWNER = 'Acme';
export const REPO = 'Widgets';
export const FRESH_BASE = 10_001;
export const SWEEP_BASE = 20_001;
export const ANCHOR_FRESH_BASE = 1_000_001;
export const SWEEP_FILLER_REPO = 'Ballast';

export interface Workload {
  sessions: number;
  takeover: number;
  /** PRs from FRESH_BASE that exist in the fake; null: unbounded (SQL anchors) */
  freshPool: number | null;
  freshBase: number;
}

export type Intent = 'first' | 'takeover';

export interface ClaimPick {
  session: number;
  pr: number;
  intent: Intent;
}

/**
 * The claim a client makes at its i-th iteration (i from 1), exactly as the pgbench script
 * computes it (client c of n): odd i a takeover, even i the next fresh PR of that client.
 */
export function pickClaim(w: Workload, client: number, clients: number, i: number): ClaimPick {
  const session = 1 + Math.floor(Math.random() * w.sessions);
  if (i % 2 === 1) return { session, pr: 1 + Math.floor(Math.random() * w.takeover), intent: 'takeover' };
  let k = client + clients * (i / 2 - 1);
  if (w.freshPool !== null) k %= w.freshPool;
  return { session, pr: w.freshBase + k, intent: 'first' };
}

/** The pgbench script: the same schedule as pickClaim, and the claim statement. */
export const PGBENCH_SCRIPT = `\\set i :i + 1
\\set s random(1, :nsessions)
\\set t random(1, :ntakeover)
\\set p case when :i % 2 = 0 then :freshbase + :client_id + :nclients * (:i / 2 - 1) else :t end
select ao.claim_pr(null, null, 'bench-' || :s::integer, true, :tmpl::text::jsonb || jsonb_build_object('number', :p::integer, 'headBranch', 'feature/' || :p::integer, 'observedAt', ao.iso_us(clock_timestamp()))) as reply;
`;

/**
 * The claim statement for Node, derived from the pgbench script the way pgbench itself prepares
 * it under `-M prepared`: every `:var` becomes the next `$n`. The parameter order is returned
 * with it.
 */
export function nodeClaimStatement(): { text: string; params: string[] } {
  const line = PGBENCH_SCRIPT.split('\n').find((l) => l.startsWith('select')) ?? '';
  const params: string[] = [];
  const text = line.replace(/(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => {
    params.push(name);
    return `$${params.length}`;
  });
  return { text: text.replace(/;\s*$/, ''), params };
}

/** The template all SQL anchors write: ao's own snapshot of a bench PR (fetched from the fake). */
export function snapshotTemplate(snapshot: PrSnapshot): string {
  return JSON.stringify(snapshot);
}

export async function seed(db: postgres.Sql, w: Workload, checkout: BenchCheckout, template: string): Promise<void> {
  await db`insert into ao.projects (id, path, repo_url, default_branch, session_seq, host)
    values (${PROJECT}, ${checkout.path}, ${`https://github.com/${OWNER}/${REPO}`}, 'main', ${w.sessions}, ${BENCH_HOST})`;
  await db`insert into ao.sessions (id, project_id, num, kind, state, branch, workspace_path, host)
    select 'bench-' || n, ${PROJECT}, n, 'worker', 'active', 'ao/bench-' || n || '/root', ${checkout.worktreeOf('bench-')} || n, ${BENCH_HOST}
    from generate_series(1, ${w.sessions}::integer) n`;
  const { text } = nodeClaimStatement();
  const order = nodeClaimStatement().params;
  const queue = Array.from({ length: w.takeover }, (_, k) => k + 1);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let pr = queue.shift(); pr !== undefined; pr = queue.shift()) {
        const values: Record<string, string | number> = { s: ((pr - 1) % w.sessions) + 1, p: pr, tmpl: template };
        await db.unsafe(text, order.map((name) => values[name] ?? null), { prepare: true });
      }
    }),
  );
  await db`analyze`;
}

export async function resetRun(db: postgres.Sql, w: Workload, checkout: BenchCheckout): Promise<void> {
  await checkout.resetWorktrees(db);
  await db`delete from ao.pull_requests where project_id = ${PROJECT} and number > ${w.takeover}`;
  await db`update ao.pull_requests p set session_id = 'bench-' || ((p.number - 1) % ${w.sessions}::integer + 1)
    where p.project_id = ${PROJECT} and p.number <= ${w.takeover}
      and p.session_id <> 'bench-' || ((p.number - 1) % ${w.sessions}::integer + 1)`;
  // written by hand, not by ao.claim_pr: their API documents follow here
  await db`select ao.refresh_pr_doc(p.url) from ao.pull_requests p, ao.pr_docs d
    where p.project_id = ${PROJECT} and d.url = p.url and (d.doc::jsonb ->> 'sessionId') <> p.session_id`;
  // jobs a 202-only phase left queued must not be picked up by a later worker's sweeper
  await db`delete from ao.jobs where state = 'queued'`;
  await db`checkpoint`;
}

// ---------------------------------------------------------------------------------------------
// the session-size sweep

export interface SweepSession {
  size: number;
  sessionId: string;
  /** the PR (in the fake) the sweep claims again and again: a refresh by its owner */
  pr: number;
}

/**
 * Project `sweep` (same origin) with one session per size; each owns its sweep PR (claimed
 * through ao.claim_pr) and size-1 filler PRs of Acme/Ballast with the same shape (2 checks, 1
 * review thread with 1 comment), inserted in bulk.
 */
export async function seedSweep(db: postgres.Sql, sizes: number[], checkout: BenchCheckout, template: string): Promise<SweepSession[]> {
  await db`insert into ao.projects (id, path, repo_url, default_branch, session_seq, host)
    values ('sweep', ${checkout.path}, ${`https://github.com/${OWNER}/${REPO}`}, 'main', ${sizes.length}, ${BENCH_HOST})`;
  const sessions: SweepSession[] = [];
  for (const [k, size] of sizes.entries()) {
    const sessionId = `sweep-${k + 1}`;
    const pr = SWEEP_BASE + k;
    sessions.push({ size, sessionId, pr });
    await db`insert into ao.sessions (id, project_id, num, kind, state, branch, workspace_path, host)
      values (${sessionId}, 'sweep', ${k + 1}, 'worker', 'active', ${`ao/${sessionId}/root`}, ${checkout.worktreeOf(sessionId)}, ${BENCH_HOST})`;
    await db`select ao.claim_pr(null, null, ${sessionId}, true,
      ${template}::text::jsonb || jsonb_build_object('number', ${pr}::integer, 'headBranch', 'feature/' || ${pr}::integer,
        'observedAt', ao.iso_us(clock_timestamp())))`;
    if (size <= 1) continue;
    const first = (k + 1) * 100_000;
    const last = first + size - 2;
    const url = (n: string) => `'https://github.com/acme/ballast/pull/' || ${n}`;
    await db.unsafe(
      `insert into ao.pull_requests (url, owner, repo, number, session_id, project_id, title, author, state, ci,
         review, mergeability, is_draft, head_branch, head_sha, base_branch, base_sha, head_repository,
         additions, deletions, changed_files, provider_created_at, provider_updated_at, observed_at)
       select ${url('n')}, 'Acme', '${SWEEP_FILLER_REPO}', n, $1, 'sweep', 'Filler ' || n, p.author, p.state, p.ci,
         p.review, p.mergeability, p.is_draft, 'feature/' || n, p.head_sha, p.base_branch, p.base_sha, 'Acme/${SWEEP_FILLER_REPO}',
         p.additions, p.deletions, p.changed_files, p.provider_created_at, p.provider_updated_at, p.observed_at
       from generate_series($2::integer, $3::integer) n, ao.pull_requests p where p.url = $4`,
      [sessionId, first, last, `https://github.com/acme/widgets/pull/${pr}`],
    );
    await db.unsafe(
      `insert into ao.pr_checks (pr_url, name, sha, status, conclusion, url)
       select ${url('n')}, c.name, c.sha, c.status, c.conclusion, c.url
       from generate_series($1::integer, $2::integer) n, ao.pr_checks c where c.pr_url = $3`,
      [first, last, `https://github.com/acme/widgets/pull/${pr}`],
    );
    await db.unsafe(
      `insert into ao.pr_review_threads (pr_url, thread_id, path, line, is_resolved, is_bot)
       select ${url('n')}, t.thread_id, t.path, t.line, t.is_resolved, t.is_bot
       from generate_series($1::integer, $2::integer) n, ao.pr_review_threads t where t.pr_url = $3`,
      [first, last, `https://github.com/acme/widgets/pull/${pr}`],
    );
    await db.unsafe(
      `insert into ao.pr_review_comments (pr_url, thread_id, comment_id, author, body, url, is_bot, created_at)
       select ${url('n')}, m.thread_id, m.comment_id || '-' || n, m.author, m.body, m.url, m.is_bot, m.created_at
       from generate_series($1::integer, $2::integer) n, ao.pr_review_comments m where m.pr_url = $3`,
      [first, last, `https://github.com/acme/widgets/pull/${pr}`],
    );
    // written by hand, not by ao.claim_pr: their API documents are made here
    await db`select ao.refresh_pr_doc(url) from ao.pull_requests where session_id = ${sessionId}`;
  }
  await db`analyze`;
  return sessions;
}

/** The sweep's claim statement: ao.claim_pr for a named session, the same snapshot template. */
export const SWEEP_STATEMENT = `select ao.claim_pr(null, null, $1, true, $2::text::jsonb || jsonb_build_object('number', $3::integer,
  'headBranch', 'feature/' || $3::integer, 'observedAt', ao.iso_us(clock_timestamp()))) as reply`;
