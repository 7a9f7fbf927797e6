import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/domain.js';
import { startStack, type Stack } from '../support/stack.js';

/** GET /api/v1/sessions pages by (created_at, id) with an opaque cursor (SPEC §9), and `ao session ls` follows the pages. */

let stack: Stack;
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Page {
  sessions: Session[];
  nextCursor: string | null;
}

/**
 * Sessions straight into the table (no worktrees: listing does not need them). Creation times
 * collide in groups and differ by single microseconds, so only a cursor that keeps the id as a
 * tie-breaker and all six fractional digits pages them correctly.
 */
async function seed(projectId: string, count: number, base: string): Promise<void> {
  await stack.db.sql`insert into ao.projects (id, path) values (${projectId}, ${`/src/${projectId}`})`;
  await stack.db.sql`
    insert into ao.sessions (id, project_id, num, kind, state, branch, host, created_at)
    select ${projectId} || '-' || g, ${projectId}, g, 'worker',
      (array['active', 'idle', 'terminated'])[1 + g % 3], 'ao/' || ${projectId} || '-' || g || '/root', 'test',
      ${base}::text::timestamptz + (g % 40) * interval '1 microsecond'
    from generate_series(1, ${count}) g`;
  await stack.db.sql`update ao.projects set session_seq = ${count} where id = ${projectId}`;
}

/** The order the API promises, as the database sees it. */
async function expectedIds(where: { projectId?: string; state?: string } = {}): Promise<string[]> {
  const rows = await stack.db.sql<Array<{ id: string }>>`
    select id from ao.sessions
    where (${where.projectId ?? null}::text is null or project_id = ${where.projectId ?? null})
      and (${where.state ?? null}::text is null or state = ${where.state ?? null})
    order by created_at, id`;
  return rows.map((r) => r.id);
}

async function pageAll(query: string, limit: number): Promise<{ ids: string[]; pages: Page[] }> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/api/v1/sessions?limit=${limit}${query ? `&${query}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const reply = await stack.http<Page>('GET', url);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    pages.push(reply.body);
    cursor = reply.body.nextCursor;
    if (pages.length > 1000) throw new Error(`paging does not end: ${url}`);
  } while (cursor !== null);
  return { ids: pages.flatMap((p) => p.sessions.map((s) => s.id)), pages };
}

beforeAll(async () => {
  stack = await startStack({ worker: false });
  await seed('pa', 150, '2020-01-01T00:00:00.000001Z');
  await seed('pb', 100, '2020-01-01T00:00:00.000001Z');
});
afterAll(async () => {
  await stack.close();
});

describe('GET /api/v1/sessions paging', () => {
  it('pages 250 sessions with limit 100 and 7: each exactly once, in (created_at, id) order', async () => {
    const all = await expectedIds();
    expect(all).toHaveLength(250);
    for (const limit of [100, 7]) {
      const { ids, pages } = await pageAll('', limit);
      expect(ids).toEqual(all);
      expect(new Set(ids).size).toBe(250);
      expect(pages).toHaveLength(Math.ceil(250 / limit));
      expect(pages.slice(0, -1).every((p) => p.sessions.length === limit && typeof p.nextCursor === 'string')).toBe(true);
      expect(pages.at(-1)?.nextCursor).toBeNull();
    }
  });

  it('ends with nextCursor null on a full last page (no empty extra page)', async () => {
    const { ids, pages } = await pageAll('', 50);
    expect(pages).toHaveLength(5);
    expect(pages.at(-1)?.sessions).toHaveLength(50);
    expect(ids).toEqual(await expectedIds());
  });

  it('combines projectId and state filters with paging', async () => {
    for (const [query, where] of [
      ['projectId=pa', { projectId: 'pa' }],
      ['state=idle', { state: 'idle' }],
      ['projectId=pb&state=terminated', { projectId: 'pb', state: 'terminated' }],
    ] as const) {
      const expected = await expectedIds(where);
      expect(expected.length).toBeGreaterThan(7);
      const { ids, pages } = await pageAll(query, 7);
      expect(ids).toEqual(expected);
      expect(pages.at(-1)?.nextCursor).toBeNull();
      for (const page of pages) {
        for (const s of page.sessions) {
          if ('projectId' in where) expect(s.projectId).toBe(where.projectId);
          if ('state' in where) expect(s.state).toBe(where.state);
        }
      }
    }
  });

  it('answers 100 sessions by default, and an empty last page for a filter that matches nothing', async () => {
    const first = await stack.http<Page>('GET', '/api/v1/sessions');
    expect(first.body.sessions).toHaveLength(100);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    expect((await stack.http<Page>('GET', '/api/v1/sessions?projectId=nobody')).body).toEqual({ sessions: [], nextCursor: null });
  });

  it('shows a session created while a client pages once, at the end', async () => {
    const first = await stack.http<Page>('GET', '/api/v1/sessions?limit=100&projectId=pa');
    await stack.db.sql`
      insert into ao.sessions (id, project_id, num, host) values ('pa-151', 'pa', 151, 'test')`;
    let cursor = first.body.nextCursor;
    const rest: string[] = [];
    while (cursor !== null) {
      const page: Page = (await stack.http<Page>('GET', `/api/v1/sessions?limit=100&projectId=pa&cursor=${cursor}`)).body;
      rest.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
    }
    expect([...first.body.sessions.map((s) => s.id), ...rest]).toEqual(await expectedIds({ projectId: 'pa' }));
    expect(rest.at(-1)).toBe('pa-151');
  });

  it('refuses an out-of-range limit and a malformed cursor with VALIDATION_FAILED naming the field', async () => {
    for (const limit of ['0', '-1', '1001', '1.5', 'abc', '99999999999999999999']) {
      const reply = await stack.http<{ code: string; details: { issues: Array<{ path: string }> } }>('GET', `/api/v1/sessions?limit=${limit}`);
      expect(reply.status, limit).toBe(400);
      expect(reply.body.code).toBe('VALIDATION_FAILED');
      expect([...new Set(reply.body.details.issues.map((i) => i.path))]).toEqual(['limit']);
    }
    const garbage = [
      'nope!',
      Buffer.from('not json').toString('base64url'),
      Buffer.from('["2026-01-01T00:00:00Z","pa-1"]').toString('base64url'),
      Buffer.from('["2026-01-01T00:00:00.000001Z",5]').toString('base64url'),
      Buffer.from('{"createdAt":"2026-01-01T00:00:00.000001Z"}').toString('base64url'),
      'A'.repeat(5000),
    ];
    for (const cursor of garbage) {
      const reply = await stack.http<{ code: string; details: { issues: Array<{ path: string }> } }>('GET', `/api/v1/sessions?cursor=${encodeURIComponent(cursor)}`);
      expect(reply.status, cursor).toBe(400);
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
      expect(reply.body.code).toBe('VALIDATION_FAILED');
      expect(reply.body.details.issues.map((i) => i.path)).toEqual(['cursor']);
    }
  });
});

describe('ao session ls', () => {
  it('follows the pages: every session of a project, more than one page of the API', async () => {
    await seed('big', 2100, '2020-02-01T00:00:00Z');
    const expected = await expectedIds({ projectId: 'big' });
    // the command from source, as its own process, against this file's API
    const script = `import SessionLs from './cli/commands/session/ls.ts'; await SessionLs.run(process.argv.slice(1), ${JSON.stringify(root)});`;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, '--', '--project', 'big', '--json'],
        { cwd: root, env: { ...process.env, AO_API_URL: stack.api }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
        (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)),
      );
    });
    const listed = JSON.parse(stdout) as { sessions: Session[] };
    expect(listed.sessions.map((s) => s.id)).toEqual(expected);
  });
});
