import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AoError } from '../../core/errors.js';
import { claimPr, FenceLost, type ClaimOutcome } from '../../core/store/claim-pr.js';
import { getJob, startJobRun, type JobRun } from '../../core/store/jobs.js';
import type { PullRequest } from '../../core/domain.js';
import { listSessionPrsJson } from '../../core/store/session-prs.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { allEvents, eventsSince, seedProject, seedSession, snapshot, terminate } from '../support/fixtures.js';

let db: TestDatabase;
let project = 0;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});

/** every test gets its own project, sessions and PR numbers inside the file's database */
let projectId: string;
beforeEach(async () => {
  projectId = await seedProject(db.sql, `p${++project}`);
});

async function owner(url: string): Promise<string | undefined> {
  const [row] = await db.sql<[{ session_id: string }?]>`select session_id from ao.pull_requests where url = ${url}`;
  return row?.session_id;
}

function codeOf(err: unknown): string | undefined {
  return err instanceof AoError ? err.code : undefined;
}

/** the PR a claim just wrote, as the API shows it */
async function claimed(outcome: ClaimOutcome): Promise<PullRequest | undefined> {
  const [row] = await db.sql<[{ prs: PullRequest[] }]>`select ao.session_prs_json(${outcome.result.sessionId}, lower(${outcome.result.pr})) as prs`;
  return row.prs[0];
}

const urlOf = (number: number) => `https://github.com/acme/widgets/pull/${number}`;

describe('claim transaction', () => {
  it('creates a new PR owned by the claimant with one pr_created carrying the fresh facts', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const before = await allEvents(db.sql);
    const snap = snapshot({ number: 101, review: 'changes_requested', ci: 'failing', mergeability: 'blocked' });

    const outcome = await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: false, snapshot: snap });

    expect(outcome.previousOwner).toBeNull();
    expect(outcome.result).toMatchObject({ sessionId: s1.id, takenOverFrom: [], donorWasTerminated: false });
    expect((await claimed(outcome))).toMatchObject({ number: 101, url: 'https://github.com/Acme/Widgets/pull/101' });
    expect(await owner(urlOf(101))).toBe(s1.id);
    const created = (await eventsSince(db.sql, before)).filter((e) => e.entity === 'pr');
    expect(created.map((e) => e.type)).toEqual(['pr_created']);
    expect(created[0]?.after).toMatchObject({ sessionId: s1.id, ci: 'failing', review: 'changes_requested', mergeability: 'blocked' });
    expect(created[0]?.sessionId).toBe(s1.id);
    expect(created[0]?.projectId).toBe(projectId);
  });

  it('refuses a claim by another session without takeover while the owner is active, writing nothing', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const s2 = await seedSession(db.sql, projectId);
    await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 102 }) });
    const before = await allEvents(db.sql);

    const err = await claimPr(db.sql, {
      run: null,
      sessionId: s2.id,
      allowTakeover: false,
      snapshot: snapshot({ number: 102, ci: 'failing', title: 'changed' }),
    }).catch((e: unknown) => e);

    expect(codeOf(err)).toBe('PR_CLAIMED_BY_ACTIVE_SESSION');
    expect((err as AoError).details).toMatchObject({ ownerSessionId: s1.id });
    expect(await owner(urlOf(102))).toBe(s1.id);
    const [row] = await db.sql`select ci, title from ao.pull_requests where url = ${urlOf(102)}`;
    expect(row).toEqual({ ci: 'passing', title: 'Add the widget' });
    expect(await eventsSince(db.sql, before)).toEqual([]);
  });

  it('moves a PR on takeover with exactly one pr_session_changed and at most one pr_updated, never mixing old and new facts', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const s2 = await seedSession(db.sql, projectId);
    await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({ number: 103, ci: 'pending', review: 'none', mergeability: 'unknown' }),
    });
    const before = await allEvents(db.sql);

    const outcome = await claimPr(db.sql, {
      run: null,
      sessionId: s2.id,
      allowTakeover: true,
      snapshot: snapshot({ number: 103, ci: 'failing', review: 'changes_requested', mergeability: 'blocked' }),
    });

    expect(outcome.result.takenOverFrom).toEqual([s1.id]);
    expect(outcome.result.donorWasTerminated).toBe(false);
    expect(await owner(urlOf(103))).toBe(s2.id);
    const prEvents = (await eventsSince(db.sql, before)).filter((e) => e.entity === 'pr');
    const moved = prEvents.filter((e) => e.type === 'pr_session_changed');
    const updated = prEvents.filter((e) => e.type === 'pr_updated');
    expect(moved).toHaveLength(1);
    expect(moved[0]?.before).toMatchObject({ sessionId: s1.id });
    expect(moved[0]?.after).toMatchObject({ sessionId: s2.id });
    expect(updated.length).toBeLessThanOrEqual(1);
    // The seed system emitted a pr_updated with the new review but the old CI and mergeability.
    for (const event of prEvents) {
      expect(event.after).toMatchObject({
        sessionId: s2.id,
        state: 'open',
        ci: 'failing',
        review: 'changes_requested',
        mergeability: 'blocked',
      });
    }
    expect(updated[0]?.before).toEqual({ ci: 'pending', review: 'none', mergeability: 'unknown' });
  });

  it('takes over a terminated owner even without takeover and reports the donor as terminated', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const s2 = await seedSession(db.sql, projectId);
    await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 104 }) });
    await terminate(db.sql, s1.id);

    const outcome = await claimPr(db.sql, { run: null, sessionId: s2.id, allowTakeover: false, snapshot: snapshot({ number: 104 }) });

    expect(outcome.result).toMatchObject({ takenOverFrom: [s1.id], donorWasTerminated: true });
    expect(await owner(urlOf(104))).toBe(s2.id);
  });

  it('treats a re-claim by the owner as a refresh: identical facts write no event', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const threads = [
      { id: 'T1', path: 'a.ts', line: 1, isResolved: false, isBot: false, comments: [] },
      { id: 'T2', path: 'b.ts', line: 2, isResolved: false, isBot: false, comments: [] },
    ];
    await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: false, snapshot: snapshot({ number: 105, reviewThreads: threads }) });
    const before = await allEvents(db.sql);

    const outcome = await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: false,
      snapshot: snapshot({ number: 105, reviewThreads: threads }),
    });

    expect(outcome.previousOwner).toBe(s1.id);
    expect(outcome.result.takenOverFrom).toEqual([]);
    expect(await eventsSince(db.sql, before)).toEqual([]);
    // the observation time still advances: freshness is visible without an event
    const [row] = await db.sql<[{ observed_at: Date }]>`select observed_at from ao.pull_requests where url = ${urlOf(105)}`;
    expect(row.observed_at.getTime()).toBeGreaterThan(Date.parse('2026-11-01T00:00:00Z'));
  });

  it('emits one pr_review_thread_resolved when one thread is resolved, and no added event for the others', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const thread = (id: string, isResolved: boolean) => ({
      id,
      path: `${id}.ts`,
      line: 7,
      isResolved,
      isBot: false,
      comments: [{ id: `${id}-c1`, author: 'rev', body: 'nit', url: 'u', isBot: false, createdAt: '2026-10-03T00:00:00.000Z' }],
    });
    await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({ number: 106, reviewThreads: [thread('A', false), thread('B', false), thread('C', false)] }),
    });
    const before = await allEvents(db.sql);

    await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({ number: 106, reviewThreads: [thread('A', false), thread('B', true), thread('C', false)] }),
    });

    const events = await eventsSince(db.sql, before);
    expect(events.map((e) => e.type)).toEqual(['pr_review_thread_resolved']);
    expect(events[0]).toMatchObject({ key: `${urlOf(106)}#B`, before: { isResolved: false }, after: { isResolved: true } });
  });

  it('prunes threads GitHub no longer has and replaces the comments of observed threads', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const c = (id: string, body: string) => ({ id, author: 'rev', body, url: 'u', isBot: false, createdAt: '2026-10-03T00:00:00.000Z' });
    await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({
        number: 107,
        reviewThreads: [
          { id: 'A', path: 'a', line: 1, isResolved: false, isBot: false, comments: [c('a1', 'one'), c('a2', 'two')] },
          { id: 'B', path: 'b', line: 1, isResolved: false, isBot: false, comments: [c('b1', 'x')] },
        ],
      }),
    });
    const before = await allEvents(db.sql);

    const outcome = await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({
        number: 107,
        reviewThreads: [{ id: 'A', path: 'a', line: 1, isResolved: false, isBot: false, comments: [c('a2', 'two, edited'), c('a3', 'three')] }],
      }),
    });

    expect((await eventsSince(db.sql, before)).map((e) => e.type)).toEqual(['pr_review_thread_removed']);
    const threads = (await claimed(outcome))?.reviewThreads ?? [];
    expect(threads.map((t) => t.id)).toEqual(['A']);
    expect(threads[0]?.comments.map((m) => [m.id, m.body])).toEqual([
      ['a2', 'two, edited'],
      ['a3', 'three'],
    ]);
    const [{ count }] = await db.sql<[{ count: number }]>`
      select count(*)::int as count from ao.pr_review_comments where pr_url = ${urlOf(107)}`;
    expect(count).toBe(2);
  });

  it('refuses to write facts from a snapshot older than the stored one, but still moves ownership', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const s2 = await seedSession(db.sql, projectId);
    const older = snapshot({ number: 108, ci: 'pending' });
    const newer = snapshot({ number: 108, ci: 'passing' });
    await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: newer });

    const outcome = await claimPr(db.sql, { run: null, sessionId: s2.id, allowTakeover: true, snapshot: older });

    expect((await claimed(outcome))).toMatchObject({ sessionId: s2.id, ci: 'passing', observedAt: newer.observedAt });
  });

  it('collapses duplicate checks of one commit to the last one observed', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const outcome = await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({
        number: 109,
        checks: [
          { name: 'build', sha: 'aaaaaaa', status: 'failed', conclusion: 'failure', url: 'u1' },
          { name: 'build', sha: 'aaaaaaa', status: 'passed', conclusion: 'success', url: 'u2' },
        ],
      }),
    });
    expect((await claimed(outcome))?.checks).toEqual([
      { name: 'build', sha: 'aaaaaaa', status: 'passed', conclusion: 'success', url: 'u2' },
    ]);
  });

  it.each([
    ['a missing session', 'SESSION_NOT_FOUND'],
    ['a terminated session', 'SESSION_TERMINATED'],
    ['an orchestrator', 'SESSION_NOT_CLAIMABLE'],
    ['a session without workspace', 'SESSION_NO_WORKSPACE'],
  ] as const)('re-checks the claimant inside the transaction: %s → %s', async (_case, code) => {
    let sessionId = `${projectId}-404`;
    if (code === 'SESSION_TERMINATED') {
      sessionId = (await seedSession(db.sql, projectId)).id;
      await terminate(db.sql, sessionId);
    } else if (code === 'SESSION_NOT_CLAIMABLE') {
      sessionId = (await seedSession(db.sql, projectId, { kind: 'orchestrator' })).id;
    } else if (code === 'SESSION_NO_WORKSPACE') {
      sessionId = (await seedSession(db.sql, projectId, { workspace: false })).id;
    }
    const before = await allEvents(db.sql);
    const err = await claimPr(db.sql, { run: null, sessionId, allowTakeover: true, snapshot: snapshot({ number: 110 }) }).catch(
      (e: unknown) => e,
    );
    expect(codeOf(err)).toBe(code);
    expect(await owner(urlOf(110))).toBeUndefined();
    expect(await eventsSince(db.sql, before)).toEqual([]);
  });

  it.each(['merged', 'closed'] as const)('refuses a %s PR with PR_NOT_OPEN and writes nothing; drafts are claimable', async (state) => {
    const number = state === 'merged' ? 121 : 122;
    const s1 = await seedSession(db.sql, projectId);
    const err = await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number, state }) }).catch(
      (e: unknown) => e,
    );
    expect(codeOf(err)).toBe('PR_NOT_OPEN');
    expect(await owner(urlOf(number))).toBeUndefined();

    const draft = await claimPr(db.sql, {
      run: null,
      sessionId: s1.id,
      allowTakeover: true,
      snapshot: snapshot({ number, state: 'draft', isDraft: true }),
    });
    expect((await claimed(draft))).toMatchObject({ number, state: 'draft', isDraft: true });
  });

  it('keeps one identity per PR whatever the casing of owner and repo, and shows GitHub casing', async () => {
    const s1 = await seedSession(db.sql, projectId);
    await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 112, owner: 'acme', repo: 'widgets' }) });
    const outcome = await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 112 }) });
    const [{ count }] = await db.sql<[{ count: number }]>`select count(*)::int as count from ao.pull_requests where number = 112`;
    expect(count).toBe(1);
    expect((await claimed(outcome))?.url).toBe('https://github.com/Acme/Widgets/pull/112');
  });

  it('lets exactly one of two concurrent first claims of a PR win when neither may take over', async () => {
    const rounds = 12;
    for (let i = 0; i < rounds; i++) {
      const s1 = await seedSession(db.sql, projectId);
      const s2 = await seedSession(db.sql, projectId);
      const number = 200 + i;
      const settled = await Promise.allSettled([
        claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: false, snapshot: snapshot({ number }) }),
        claimPr(db.sql, { run: null, sessionId: s2.id, allowTakeover: false, snapshot: snapshot({ number }) }),
      ]);
      const winners = settled.flatMap((s, idx) => (s.status === 'fulfilled' ? [[s1.id, s2.id][idx]] : []));
      const losers = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
      expect(winners).toHaveLength(1);
      expect(losers.map(codeOf)).toEqual(['PR_CLAIMED_BY_ACTIVE_SESSION']);
      expect((losers[0] as AoError).details).toMatchObject({ ownerSessionId: winners[0] });
      expect(await owner(urlOf(number))).toBe(winners[0]);
      const [{ count }] = await db.sql<[{ count: number }]>`
        select count(*)::int as count from ao.change_log where entity = 'pr' and entity_key = ${urlOf(number)}`;
      expect(count).toBe(1);
    }
  });
});

describe('claim jobs', () => {
  async function insertJob(id: string, sessionId: string): Promise<JobRun> {
    await db.sql`insert into ao.jobs (id, kind, session_id, project_id, request) values (${id}, 'claim', ${sessionId}, ${projectId}, '{}')`;
    const started = await startJobRun(db.sql, id, { leaseMs: 30_000, maxLostRuns: 3 }, 'test');
    if (started.outcome !== 'run') throw new Error(`job ${id}: ${started.outcome}`);
    return started;
  }

  it('completes the job in the same transaction and stamps every event with the causing job', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const jobId = `job_${projectId}_a`;
    const run = await insertJob(jobId, s1.id);
    const before = await allEvents(db.sql);

    const outcome = await claimPr(db.sql, { run, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 301 }) });

    const [job] = await db.sql<[{ state: string; result: unknown; finished_at: Date | null }]>`
      select state, result, finished_at from ao.jobs where id = ${jobId}`;
    expect(job.state).toBe('succeeded');
    expect(job.result).toEqual(outcome.result);
    expect(job.finished_at).not.toBeNull();
    const events = await eventsSince(db.sql, before);
    expect(events.map((e) => e.type)).toEqual(['pr_created', 'pr_check_recorded', 'job_updated']);
    expect(new Set(events.map((e) => e.jobId))).toEqual(new Set([jobId]));
    expect(new Set(events.map((e) => e.txId)).size).toBe(1);
  });

  it('stores a fixed-size result whatever the session owns; the answer assembles the PR list (defect 10)', async () => {
    const s1 = await seedSession(db.sql, projectId);
    for (let i = 0; i < 40; i++) {
      await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 500 + i }) });
    }
    const jobId = `job_${projectId}_lean`;
    const run = await insertJob(jobId, s1.id);
    const before = await allEvents(db.sql);
    await claimPr(db.sql, { run, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 600 }) });

    const [row] = await db.sql<[{ result: Record<string, unknown>; size: number }]>`
      select result, length(result::text) as size from ao.jobs where id = ${jobId}`;
    expect(row.result).toEqual({
      sessionId: s1.id, pr: 'https://github.com/Acme/Widgets/pull/600', takenOverFrom: [], donorWasTerminated: false,
      branchChanged: false, branch: s1.branch, pushTarget: null,
    });
    const updated = (await eventsSince(db.sql, before)).find((e) => e.type === 'job_updated');
    expect(updated?.after?.result).toEqual(row.result);
    const answer = await getJob(db.sql, jobId);
    const prs = (answer?.result as { prs: PullRequest[] }).prs;
    expect(prs).toHaveLength(41);
    expect(prs[0]?.number).toBe(600);
  });

  it('refuses a second claim by a run of a job that already succeeded (its fence is gone), writing nothing', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const s2 = await seedSession(db.sql, projectId);
    await claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number: 302 }) });
    const jobId = `job_${projectId}_b`;
    const run = await insertJob(jobId, s2.id);
    const first = await claimPr(db.sql, { run, sessionId: s2.id, allowTakeover: true, snapshot: snapshot({ number: 302 }) });
    const before = await allEvents(db.sql);

    const second = await claimPr(db.sql, { run, sessionId: s2.id, allowTakeover: true, snapshot: snapshot({ number: 302, ci: 'failing' }) }).catch(
      (e: unknown) => e,
    );

    expect(second).toBeInstanceOf(FenceLost);
    expect(first.result.takenOverFrom).toEqual([s1.id]);
    expect(await eventsSince(db.sql, before)).toEqual([]);
  });
});

describe('session PR order', () => {
  it('lists open before closed, most recently updated first, and puts the claimed PR first in a claim result', async () => {
    const s1 = await seedSession(db.sql, projectId);
    const at = (day: number) => `2026-10-${String(day).padStart(2, '0')}T00:00:00.000Z`;
    const claim = (number: number, day: number) =>
      claimPr(db.sql, { run: null, sessionId: s1.id, allowTakeover: true, snapshot: snapshot({ number, providerUpdatedAt: at(day) }) });
    await claim(401, 5); // will be closed, updated most recently
    await claim(402, 1); // open, oldest
    await claim(403, 3); // open, newer
    await claim(404, 2); // draft
    await db.sql`update ao.pull_requests set state = 'closed', provider_updated_at = ${at(9)} where number = 401`;
    await db.sql`update ao.pull_requests set state = 'draft', is_draft = true where number = 404`;
    // ao.claim_pr is the one writer of PRs and keeps their documents; this test wrote by hand
    await db.sql`select ao.refresh_pr_doc(url) from ao.pull_requests where number in (401, 404)`;

    const listed = JSON.parse(await listSessionPrsJson(db.sql, s1.id)) as { prs: PullRequest[] };
    expect(listed.prs.map((p) => p.number)).toEqual([403, 404, 402, 401]);

    const again = await claim(402, 1);
    const [answer] = await db.sql<[{ prs: PullRequest[] }]>`select ao.session_prs_json(${s1.id}, lower(${again.result.pr})) as prs`;
    expect(answer.prs.map((p) => p.number)).toEqual([402, 403, 404, 401]);
  });

  it("keeps every PR's stored document equal to the PR rebuilt from its rows, after every claim above", async () => {
    // runs last: the file's database holds the PRs of every test before it (takeovers, stale
    // snapshots, pruned threads, replaced comments, refused claims)
    const [{ prs, stale }] = await db.sql<[{ prs: number; stale: string[] }]>`
      select count(*)::int as prs,
        coalesce(array_agg(p.url) filter (where d.doc is null or d.doc::jsonb <> ao.pr_full_json(p)), '{}') as stale
      from ao.pull_requests p left join ao.pr_docs d on d.url = p.url`;
    expect(prs).toBeGreaterThan(10);
    expect(stale).toEqual([]);
  });

  it('answers SESSION_NOT_FOUND for the PRs of an unknown session', async () => {
    const err = await listSessionPrsJson(db.sql, 'nope-1').catch((e: unknown) => e);
    expect(codeOf(err)).toBe('SESSION_NOT_FOUND');
  });
});
