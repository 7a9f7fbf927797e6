import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Session } from '../../core/domain.js';
import { createJob } from '../../core/store/jobs.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * GET /api/v1/jobs (newest first) and GET /api/v1/jobs/{id}/items (a batch's children, oldest
 * first) page by (created_at, id) with an opaque cursor (SPEC §9); each job is rendered as
 * GET /api/v1/jobs/{id} renders it.
 */

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
/** jobs made by real claims through the worker: one succeeded (its result carries the session's PRs), one failed */
let claimed: { succeeded: string; failed: string; sessionId: string };

interface Page {
  jobs: Job[];
  nextCursor: string | null;
}

interface ItemsPage {
  items: Job[];
  nextCursor: string | null;
}

interface Problem {
  code: string;
  details: { issues: Array<{ path: string }> };
}

const PARENT = 'job_batchparent';
const CHILDLESS = 'job_childless';
const ITEMS = 130;

/**
 * Jobs straight into the table, many per session and kind. Creation times collide in groups and
 * differ by single microseconds, so only a cursor that keeps the id as a tie-breaker and all six
 * fractional digits pages them correctly.
 */
async function seed(): Promise<void> {
  await stack.db.sql`
    insert into ao.jobs (id, kind, state, session_id, project_id, request, error, step, attempts, finished_at, created_at)
    select 'job_seed' || lpad(g::text, 4, '0'),
      (array['claim', 'spawn_claim'])[1 + g % 2],
      (array['queued', 'succeeded', 'failed', 'cancelled'])[1 + g % 4],
      'jl-' || (1 + g % 3), 'jl', jsonb_build_object('pr', g::text),
      case when g % 4 = 2 then jsonb_build_object('code', 'PR_NOT_FOUND', 'message', 'no such PR', 'details', null) end,
      case when g % 4 = 0 then 'waiting for a worker' end,
      g % 3, case when g % 4 <> 0 then '2020-01-02T00:00:00Z'::timestamptz end,
      '2020-01-01T00:00:00.000001Z'::timestamptz + (g % 40) * interval '1 microsecond'
    from generate_series(1, 230) g`;
  // a batch with its items, and one without
  await stack.db.sql`
    insert into ao.jobs (id, kind, state, request, progress, created_at)
    values (${PARENT}, 'reclaim_batch', 'queued', '{"all": true}', jsonb_build_object('done', 0, 'total', ${ITEMS}::int), '2019-12-31T00:00:00Z'),
      (${CHILDLESS}, 'reclaim_batch', 'queued', '{"all": true}', null, '2019-12-31T00:00:00Z')`;
  await stack.db.sql`
    insert into ao.jobs (id, kind, state, parent_id, request, created_at)
    select 'job_item' || lpad(g::text, 4, '0'), 'reclaim_item', 'queued', ${PARENT},
      jsonb_build_object('pr', 'https://github.com/acme/widgets/pull/' || g),
      '2019-12-31T00:00:01.000001Z'::timestamptz + (g % 25) * interval '1 microsecond'
    from generate_series(1, ${ITEMS}) g`;
}

/** The order GET /jobs promises, as the database sees it. */
async function expectedIds(where: { kind?: string; state?: string; sessionId?: string } = {}): Promise<string[]> {
  const rows = await stack.db.sql<Array<{ id: string }>>`
    select id from ao.jobs
    where (${where.kind ?? null}::text is null or kind = ${where.kind ?? null})
      and (${where.state ?? null}::text is null or state = ${where.state ?? null})
      and (${where.sessionId ?? null}::text is null or session_id = ${where.sessionId ?? null})
    order by created_at desc, id desc`;
  return rows.map((r) => r.id);
}

async function pageAll<P extends { nextCursor: string | null }>(base: string, limit: number): Promise<P[]> {
  const pages: P[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `${base}${base.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const reply = await stack.http<P>('GET', url);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    pages.push(reply.body);
    cursor = reply.body.nextCursor;
    if (pages.length > 1000) throw new Error(`paging does not end: ${url}`);
  } while (cursor !== null);
  return pages;
}

function expectValidationFailed(reply: { status: number; headers: Headers; body: Problem }, field: string, label: string): void {
  expect(reply.status, label).toBe(400);
  expect(reply.headers.get('content-type'), label).toContain('application/problem+json');
  expect(reply.body.code, label).toBe('VALIDATION_FAILED');
  expect([...new Set(reply.body.details.issues.map((i) => i.path))], label).toEqual([field]);
}

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
  // sessions jl-1..3 for the seeded jobs (no worktrees: listing does not need them)
  await stack.db.sql`insert into ao.projects (id, path, session_seq) values ('jl', '/src/jl', 3)`;
  await stack.db.sql`
    insert into ao.sessions (id, project_id, num, kind, state, branch, host)
    select 'jl-' || g, 'jl', g, 'worker', 'active', 'ao/jl-' || g || '/root', 'test' from generate_series(1, 3) g`;
  await seed();
  const session = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  stack.github.addPullRequest('Acme', 'Widgets', { number: 7, rollupState: 'SUCCESS', contexts: [{ kind: 'CheckRun', name: 'build' }] });
  const ok = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${session.body.id}/pr/claim`, { pr: '7' });
  const missing = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${session.body.id}/pr/claim`, { pr: '99999' });
  claimed = { succeeded: ok.body.jobId, failed: missing.body.jobId, sessionId: session.body.id };
  expect((await stack.waitForJob(claimed.succeeded)).state).toBe('succeeded');
  expect((await stack.waitForJob(claimed.failed)).state).toBe('failed');
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

describe('GET /api/v1/jobs', () => {
  it('lists newest first: the claims made last come first, 100 by default', async () => {
    const first = await stack.http<Page>('GET', '/api/v1/jobs');
    expect(first.status).toBe(200);
    expect(first.body.jobs).toHaveLength(100);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    expect(first.body.jobs.slice(0, 2).map((j) => j.id)).toEqual([claimed.failed, claimed.succeeded]);
    expect(first.body.jobs.map((j) => j.id)).toEqual((await expectedIds()).slice(0, 100));
  });

  it('pages every job with limit 100 and 7: each exactly once, newest first, the last page ending the list', async () => {
    const all = await expectedIds();
    // seeded, the two batches and their items, the two claims
    expect(all.length).toBe(230 + 2 + ITEMS + 2);
    for (const limit of [100, 7]) {
      const pages = await pageAll<Page>('/api/v1/jobs', limit);
      const ids = pages.flatMap((p) => p.jobs.map((j) => j.id));
      expect(ids).toEqual(all);
      expect(new Set(ids).size).toBe(all.length);
      expect(pages).toHaveLength(Math.ceil(all.length / limit));
      expect(pages.slice(0, -1).every((p) => p.jobs.length === limit && typeof p.nextCursor === 'string')).toBe(true);
      expect(pages.at(-1)?.nextCursor).toBeNull();
    }
  });

  it('filters by kind, state and session, alone and together, across pages', async () => {
    for (const [query, where] of [
      ['kind=spawn_claim', { kind: 'spawn_claim' }],
      ['kind=reclaim_item', { kind: 'reclaim_item' }],
      ['state=failed', { state: 'failed' }],
      ['state=cancelled', { state: 'cancelled' }],
      ['sessionId=jl-2', { sessionId: 'jl-2' }],
      ['kind=claim&state=queued&sessionId=jl-3', { kind: 'claim', state: 'queued', sessionId: 'jl-3' }],
    ] as const) {
      const expected = await expectedIds(where);
      expect(expected.length, query).toBeGreaterThan(7);
      const pages = await pageAll<Page>(`/api/v1/jobs?${query}`, 7);
      const jobs = pages.flatMap((p) => p.jobs);
      expect(jobs.map((j) => j.id), query).toEqual(expected);
      for (const job of jobs) {
        if ('kind' in where) expect(job.kind).toBe(where.kind);
        if ('state' in where) expect(job.state).toBe(where.state);
        if ('sessionId' in where) expect(job.sessionId).toBe(where.sessionId);
      }
    }
    const mine = await stack.http<Page>('GET', `/api/v1/jobs?sessionId=${claimed.sessionId}`);
    expect(mine.body).toMatchObject({ nextCursor: null });
    expect(mine.body.jobs.map((j) => j.id)).toEqual([claimed.failed, claimed.succeeded]);
    expect((await stack.http<Page>('GET', '/api/v1/jobs?sessionId=nobody-1')).body).toEqual({ jobs: [], nextCursor: null });
  });

  it('renders each job exactly as GET /api/v1/jobs/{id} does (a succeeded claim with its PRs, a failure with its error)', async () => {
    const listed = await stack.http<Page>('GET', '/api/v1/jobs?limit=1000');
    expect(listed.body.nextCursor).toBeNull();
    const byId = new Map(listed.body.jobs.map((j) => [j.id, j]));
    const succeeded = byId.get(claimed.succeeded);
    expect(succeeded).toMatchObject({ state: 'succeeded', result: { prs: [{ number: 7 }] } });
    expect(byId.get(claimed.failed)).toMatchObject({ state: 'failed', error: { code: 'PR_NOT_FOUND' } });
    for (const id of [claimed.succeeded, claimed.failed, PARENT, 'job_item0001', 'job_seed0001', 'job_seed0002', 'job_seed0003']) {
      const fetched = await stack.http<Job>('GET', `/api/v1/jobs/${id}`);
      expect(fetched.status).toBe(200);
      expect(byId.get(id), id).toEqual(fetched.body);
    }
  });

  it('shows a job created while a client pages in no later page', async () => {
    const first = await stack.http<Page>('GET', '/api/v1/jobs?limit=50');
    const { job } = await createJob(stack.db.sql, { kind: 'claim', sessionId: 'jl-1', projectId: 'jl', request: { pr: 'late' }, idempotency: null });
    const later: string[] = [];
    let cursor = first.body.nextCursor;
    while (cursor !== null) {
      const page: Page = (await stack.http<Page>('GET', `/api/v1/jobs?limit=50&cursor=${cursor}`)).body;
      later.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
    }
    expect(later).not.toContain(job.id);
    expect([job.id, ...first.body.jobs.map((j) => j.id), ...later]).toEqual(await expectedIds());
    expect((await stack.http<Page>('GET', '/api/v1/jobs?limit=1')).body.jobs[0]?.id).toBe(job.id);
  });

  it('refuses a bad filter, limit or cursor with VALIDATION_FAILED naming the field', async () => {
    const garbage = [
      'nope!',
      Buffer.from('not json').toString('base64url'),
      Buffer.from('["2026-01-01T00:00:00Z","job_x"]').toString('base64url'),
      Buffer.from('["2026-01-01T00:00:00.000001Z",5]').toString('base64url'),
      'A'.repeat(5000),
    ];
    const cases: Array<[string, string]> = [
      ['kind=batch', 'kind'],
      ['kind=', 'kind'],
      ['state=done', 'state'],
      ['state=QUEUED', 'state'],
      ['sessionId=a%00b', 'sessionId'],
      [`sessionId=${'x'.repeat(300)}`, 'sessionId'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=abc', 'limit'],
      ...garbage.map((cursor): [string, string] => [`cursor=${encodeURIComponent(cursor)}`, 'cursor']),
    ];
    for (const [query, field] of cases) {
      expectValidationFailed(await stack.http<Problem>('GET', `/api/v1/jobs?${query}`), field, query);
      // the items of a batch take the paging parameters only
      if (field === 'limit' || field === 'cursor') {
        expectValidationFailed(await stack.http<Problem>('GET', `/api/v1/jobs/${PARENT}/items?${query}`), field, `items ${query}`);
      }
    }
  });
});

describe('GET /api/v1/jobs/{id}/items', () => {
  it("pages a batch's items in creation order (oldest first, then id), each exactly once", async () => {
    const rows = await stack.db.sql<Array<{ id: string }>>`select id from ao.jobs where parent_id = ${PARENT} order by created_at, id`;
    const expected = rows.map((r) => r.id);
    expect(expected).toHaveLength(ITEMS);
    for (const limit of [100, 9, ITEMS]) {
      const pages = await pageAll<ItemsPage>(`/api/v1/jobs/${PARENT}/items`, limit);
      const items = pages.flatMap((p) => p.items);
      expect(items.map((j) => j.id)).toEqual(expected);
      expect(pages).toHaveLength(Math.ceil(ITEMS / limit));
      expect(pages.at(-1)?.nextCursor).toBeNull();
      expect(items.every((j) => j.kind === 'reclaim_item' && j.parentId === PARENT)).toBe(true);
    }
    const first = await stack.http<ItemsPage>('GET', `/api/v1/jobs/${PARENT}/items`);
    expect(first.body.items).toHaveLength(100);
    const fetched = await stack.http<Job>('GET', `/api/v1/jobs/${expected[0] ?? ''}`);
    expect(first.body.items[0]).toEqual(fetched.body);
  });

  it('answers an empty last page for a job without children, and 404 JOB_NOT_FOUND for a missing parent', async () => {
    expect(await stack.http('GET', `/api/v1/jobs/${CHILDLESS}/items`)).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });
    expect(await stack.http('GET', `/api/v1/jobs/${claimed.succeeded}/items?limit=5`)).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });
    const missing = await stack.http<{ code: string; details: { jobId: string } }>('GET', '/api/v1/jobs/job_nosuchjob/items');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect(missing.body).toMatchObject({ code: 'JOB_NOT_FOUND', details: { jobId: 'job_nosuchjob' } });
  });
});

describe('the OpenAPI document', () => {
  it('describes both lists with their parameters, operation ids and Job pages', async () => {
    const doc = await stack.http<{
      paths: Record<string, Record<string, { operationId: string; tags: string[]; parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown> }>>;
    }>('GET', '/docs/json');
    const list = doc.body.paths['/api/v1/jobs']?.get;
    expect(list).toMatchObject({ operationId: 'listJobs', tags: ['jobs'] });
    expect(list?.parameters?.map((p) => p.name).sort()).toEqual(['cursor', 'kind', 'limit', 'sessionId', 'state']);
    const items = doc.body.paths['/api/v1/jobs/{id}/items']?.get;
    expect(items).toMatchObject({ operationId: 'listJobItems', tags: ['jobs'] });
    expect(items?.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['path:id', 'query:cursor', 'query:limit']);
    expect(Object.keys(items?.responses ?? {})).toContain('404');
  });
});
