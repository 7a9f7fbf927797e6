import { mkdir, realpath, rm, symlink } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * Hostile input on every route (SPEC §9): each answer is a 4xx problem document with a stable
 * code — never a 500, never fastify's own JSON — and nothing is written.
 */

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let extra: Array<{ path: string; remove(): Promise<void> }> = [];

interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  message: string;
  requestId: string;
  details?: { issues?: Array<{ path: string; message: string }>; [key: string]: unknown };
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: Problem;
}

async function call(method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${stack.api}${path}`, {
    method,
    headers: options.headers ?? (options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await res.text();
  let body: Problem;
  try {
    body = JSON.parse(text) as Problem;
  } catch {
    throw new Error(`${method} ${path.slice(0, 120)}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, body };
}

/** The answer is a problem document with this status and code (and, when given, naming this field). */
function expectProblem(answer: Answer, status: number, code: string, field?: string, label = ''): void {
  const where = `${label} → ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, where).toBe(status);
  expect(answer.contentType, where).toContain('application/problem+json');
  expect(answer.body, where).toMatchObject({ status, code, type: `urn:ao:error:${code}` });
  expect(answer.body.requestId, where).toMatch(/^req_/);
  if (field !== undefined) expect(answer.body.details?.issues?.map((i) => i.path), where).toContain(field);
}

/** Rows in every table of ao's schema: a refused request leaves them all as they were. */
async function rowCounts(): Promise<Record<string, number>> {
  const tables = await stack.db.sql<Array<{ name: string }>>`
    select table_name as name from information_schema.tables
    where table_schema = 'ao' and table_type = 'BASE TABLE' order by 1`;
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await stack.db.sql<[{ n: number }]>`select count(*)::int as n from ${stack.db.sql(`ao.${name}`)}`;
    counts[name] = row.n;
  }
  return counts;
}

/** Sends raw bytes over TCP (what fetch refuses to send) and returns the whole answer. */
async function rawHttp(request: string): Promise<string> {
  const { hostname, port } = new URL(stack.api);
  const socket = connectTcp({ host: hostname, port: Number(port) });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => resolve());
    socket.write(request, 'latin1');
  });
  return Buffer.concat(chunks).toString('utf8');
}

const SESSION = 'inp-1';

beforeAll(async () => {
  stack = await startStack({ worker: false });
  checkout = await makeCheckout();
  // a project and a claimable session (by SQL: no worktree is needed to be refused)
  await stack.db.sql`insert into ao.projects (id, path, repo_url, session_seq) values ('inp', ${checkout.path}, 'https://github.com/acme/widgets', 1)`;
  await stack.db.sql`
    insert into ao.sessions (id, project_id, num, kind, state, branch, workspace_path, host)
    values (${SESSION}, 'inp', 1, 'worker', 'active', 'ao/inp-1/root', '/work/inp-1', 'test')`;
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
  for (const c of extra) await c.remove();
});

/** Ids no route may pass on: [as written in the URL, the field the answer names]. */
const HOSTILE_IDS: Array<[string, string]> = [
  ['%00', 'id'],
  ['a%00b', 'id'],
  ['a%01b', 'id'],
  ['a%1Bb', 'id'],
  ['a%7Fb', 'id'],
  ['a%C2%85b', 'id'],
  ['x'.repeat(200), 'id'],
  ['x'.repeat(5000), 'url'],
  ['%ff', 'url'],
  ['a%E0%A4', 'url'],
  ['%ED%A0%80', 'url'],
  ['%', 'url'],
];

/** Route-specific hostile input: [method, path, body, headers, status, code, field]. */
type Case = [method: string, path: string, body: string | undefined, headers: Record<string, string> | undefined, status: number, code: string, field?: string];

const json = (value: unknown) => JSON.stringify(value);
const JSON_TYPE = { 'content-type': 'application/json' };
const HUGE = '9'.repeat(400);

function casesFor(checkoutPath: string): Case[] {
  const claim = `/api/v1/sessions/${SESSION}/pr/claim`;
  return [
    // events
    ['GET', '/api/v1/events?after=9999999999999999999-1', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events?after=1-9223372036854775808', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', `/api/v1/events?after=${HUGE}-1`, undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events?after=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events?after=%ff', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events?after=-1', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events?after=1-2-3', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events?limit=0', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/events?limit=-5', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/events?limit=1001', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', `/api/v1/events?limit=${HUGE}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/events?limit=abc', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/events?limit=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/events/stream?after=9999999999999999999-1', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events/stream?after=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'after'],
    ['GET', '/api/v1/events/stream', undefined, { 'last-event-id': 'nope' }, 400, 'VALIDATION_FAILED', 'last-event-id'],
    ['GET', '/api/v1/events/stream', undefined, { 'last-event-id': `${HUGE}-1` }, 400, 'VALIDATION_FAILED', 'last-event-id'],
    // sessions
    ['GET', '/api/v1/sessions?limit=0', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/sessions?limit=-1', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/sessions?limit=1001', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', `/api/v1/sessions?limit=${HUGE}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/sessions?cursor=nope!', undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', '/api/v1/sessions?cursor=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', `/api/v1/sessions?cursor=${Buffer.from('[1,2]').toString('base64url')}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', '/api/v1/sessions?projectId=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'projectId'],
    ['GET', `/api/v1/sessions?projectId=${'x'.repeat(300)}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'projectId'],
    ['GET', '/api/v1/sessions?state=bogus', undefined, undefined, 400, 'VALIDATION_FAILED', 'state'],
    ['POST', '/api/v1/sessions', json({ projectId: 'a\u0000b' }), JSON_TYPE, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/v1/sessions', json({ projectId: 5 }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'projectId'],
    ['POST', '/api/v1/sessions', json({ projectId: 'inp', kind: 'boss' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'kind'],
    ['POST', '/api/v1/sessions', json({ projectId: 'inp', provisional: 'yes' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'provisional'],
    ['POST', '/api/v1/sessions', json([]), JSON_TYPE, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/v1/sessions', '{"projectId":', JSON_TYPE, 400, 'INVALID_JSON'],
    ['POST', '/api/v1/sessions', '', JSON_TYPE, 400, 'INVALID_JSON'],
    ['POST', '/api/v1/sessions', 'projectId=inp', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['DELETE', `/api/v1/sessions/${SESSION}?force=yes`, undefined, undefined, 400, 'VALIDATION_FAILED', 'force'],
    // claims
    ['POST', claim, json({ pr: '1', allowTakeover: 'yes' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'allowTakeover'],
    ['POST', claim, json({ pr: '1', allowTakeover: 1 }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'allowTakeover'],
    ['POST', claim, json({ pr: 142 }), JSON_TYPE, 400, 'PR_REQUIRED', 'pr'],
    ['POST', claim, json({}), JSON_TYPE, 400, 'PR_REQUIRED', 'pr'],
    ['POST', claim, json({ pr: 'a\u0000b' }), JSON_TYPE, 400, 'INVALID_PR_REF'],
    ['POST', claim, json({ pr: HUGE }), JSON_TYPE, 400, 'INVALID_PR_REF'],
    ['POST', claim, json({ pr: '1' }), { ...JSON_TYPE, 'idempotency-key': 'k'.repeat(300) }, 400, 'VALIDATION_FAILED', 'idempotency-key'],
    ['POST', claim, '{"pr":', JSON_TYPE, 400, 'INVALID_JSON'],
    ['POST', claim, '1', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    // batch re-claims
    ['POST', '/api/v1/pr/reclaims', json({}), JSON_TYPE, 400, 'VALIDATION_FAILED', 'selector'],
    ['POST', '/api/v1/pr/reclaims', json({ all: true, orphaned: true }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'selector'],
    ['POST', '/api/v1/pr/reclaims', json({ all: 'yes' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'all'],
    ['POST', '/api/v1/pr/reclaims', json({ all: true, includeClosed: 'no' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'includeClosed'],
    ['POST', '/api/v1/pr/reclaims', json({ prs: 'acme/widgets#1' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'prs'],
    ['POST', '/api/v1/pr/reclaims', json({ prs: [HUGE] }), JSON_TYPE, 400, 'INVALID_PR_REF'],
    ['POST', '/api/v1/pr/reclaims', json({ prs: ['x'.repeat(600)] }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'prs/0'],
    ['POST', '/api/v1/pr/reclaims', json({ prs: ['a\u0000b'] }), JSON_TYPE, 400, 'INVALID_PR_REF'],
    ['POST', '/api/v1/pr/reclaims', json({ sessionId: 'a\u0000b' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'sessionId'],
    ['POST', '/api/v1/pr/reclaims', json({ all: true, extra: 1 }), JSON_TYPE, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/v1/pr/reclaims', '{"all":', JSON_TYPE, 400, 'INVALID_JSON'],
    ['POST', '/api/v1/pr/reclaims', 'all', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    // jobs
    ['GET', '/api/v1/jobs/job_x?wait=-1', undefined, undefined, 400, 'VALIDATION_FAILED', 'wait'],
    ['GET', '/api/v1/jobs/job_x?wait=61', undefined, undefined, 400, 'VALIDATION_FAILED', 'wait'],
    ['GET', `/api/v1/jobs/job_x?wait=${HUGE}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'wait'],
    ['GET', '/api/v1/jobs/job_x?wait=soon', undefined, undefined, 400, 'VALIDATION_FAILED', 'wait'],
    ['GET', '/api/v1/jobs?limit=0', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', `/api/v1/jobs?limit=${HUGE}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/jobs?cursor=nope!', undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', '/api/v1/jobs?cursor=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', `/api/v1/jobs?cursor=${Buffer.from('[1,2]').toString('base64url')}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', '/api/v1/jobs?kind=bogus', undefined, undefined, 400, 'VALIDATION_FAILED', 'kind'],
    ['GET', '/api/v1/jobs?state=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'state'],
    ['GET', '/api/v1/jobs?sessionId=%00', undefined, undefined, 400, 'VALIDATION_FAILED', 'sessionId'],
    ['GET', `/api/v1/jobs?sessionId=${'x'.repeat(300)}`, undefined, undefined, 400, 'VALIDATION_FAILED', 'sessionId'],
    ['GET', '/api/v1/jobs/job_x/items?limit=-1', undefined, undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/v1/jobs/job_x/items?cursor=%ff', undefined, undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    // projects
    ['POST', '/api/v1/projects', json({ path: '.' }), JSON_TYPE, 400, 'PROJECT_PATH_INVALID'],
    ['POST', '/api/v1/projects', json({ path: 'some/where' }), JSON_TYPE, 400, 'PROJECT_PATH_INVALID'],
    ['POST', '/api/v1/projects', json({ path: `${checkoutPath}\u0000` }), JSON_TYPE, 400, 'PROJECT_PATH_INVALID'],
    ['POST', '/api/v1/projects', json({ path: 5 }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'path'],
    ['POST', '/api/v1/projects', json({ path: '' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'path'],
    ['POST', '/api/v1/projects', json({ path: checkoutPath, id: 'a\u0000b' }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'id'],
    ['POST', '/api/v1/projects', json({ path: checkoutPath, id: 'x'.repeat(65) }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'id'],
    ['POST', '/api/v1/projects', json({ path: checkoutPath, id: 'fine', repoUrl: 'nope' }), JSON_TYPE, 400, 'VALIDATION_FAILED'],
    ...['--orphan', '-b', 'a..b', '@{-1}', 'HEAD', 'a b', 'x.lock', 'a\u0000b', 'tab\tbed', 'end/'].map(
      (branch): Case => ['POST', '/api/v1/projects', json({ path: checkoutPath, id: 'fine', defaultBranch: branch }), JSON_TYPE, 400, 'BRANCH_INVALID'],
    ),
    ['POST', '/api/v1/projects', json({ path: checkoutPath, defaultBranch: 'b'.repeat(300) }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'defaultBranch'],
    ['POST', '/api/v1/projects', json({ path: checkoutPath, defaultBranch: 5 }), JSON_TYPE, 400, 'VALIDATION_FAILED', 'defaultBranch'],
    ['POST', '/api/v1/projects', 'path=/tmp', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST', '/api/v1/projects', 'null', JSON_TYPE, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/v1/projects', '{"path": "/tmp",}', JSON_TYPE, 400, 'INVALID_JSON'],
    // anywhere
    ['GET', '/api/v1/%ff', undefined, undefined, 400, 'VALIDATION_FAILED', 'url'],
  ];
}

describe('hostile input', () => {
  it('refuses hostile ids in the path of every route with a path parameter, as VALIDATION_FAILED naming it', async () => {
    const doc = await stack.http<{ paths: Record<string, Record<string, unknown>> }>('GET', '/docs/json');
    const routes = Object.entries(doc.body.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => [method.toUpperCase(), path] as const));
    const withId = routes.filter(([, path]) => /\{\w+\}/.test(path));
    // every {id} route of api/routes/*.ts today, so a route that vanishes from the sweep is noticed
    expect(withId.map(([m, p]) => `${m} ${p}`)).toEqual(
      expect.arrayContaining([
        'GET /api/v1/projects/{id}',
        'GET /api/v1/sessions/{id}',
        'POST /api/v1/sessions/{id}/kill',
        'DELETE /api/v1/sessions/{id}',
        'GET /api/v1/sessions/{id}/pr',
        'POST /api/v1/sessions/{id}/pr/claim',
        'GET /api/v1/jobs/{id}',
        'GET /api/v1/jobs/{id}/items',
      ]),
    );
    const before = await rowCounts();
    for (const [method, template] of withId) {
      const param = /\{(\w+)\}/.exec(template)?.[1] ?? 'id';
      for (const [id, field] of HOSTILE_IDS) {
        const path = template.replaceAll(/\{\w+\}/g, id);
        const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? '{"pr":"1"}' : undefined;
        const answer = await call(method, `${path}${method === 'GET' && template.startsWith('/api/v1/jobs') ? '?wait=1' : ''}`, { ...(body ? { body } : {}) });
        expectProblem(answer, 400, 'VALIDATION_FAILED', field === 'id' ? param : field, `${method} ${path.slice(0, 80)}`);
      }
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('answers hostile queries, headers and bodies of every route with a 4xx problem and a stable code, writing nothing', async () => {
    const before = await rowCounts();
    for (const [method, path, body, headers, status, code, field] of casesFor(checkout.path)) {
      const answer = await call(method, path, { ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
      expectProblem(answer, status, code, field, `${method} ${path.slice(0, 80)} ${(body ?? '').slice(0, 80)}`);
    }
    expect(await rowCounts()).toEqual(before);
    // and the server is none the worse for it
    expect((await stack.http('GET', '/healthz')).status).toBe(200);
    expect((await stack.http('GET', `/api/v1/sessions/${SESSION}`)).status).toBe(200);
  });

  it('answers requests Node cannot parse (control characters, spaces, bad headers) with a problem document too', async () => {
    const before = await rowCounts();
    for (const request of [
      'GET /api/v1/projects/a\u0001b HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /api/v1/projects/a b HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /api/v1/projects HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n',
      'GET /api/v1/projects HTTP/9.9\r\nHost: x\r\n\r\n',
    ]) {
      const answer = await rawHttp(request);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      expect(head, JSON.stringify(request)).toMatch(/^HTTP\/1\.1 400 /);
      expect(head.toLowerCase()).toContain('content-type: application/problem+json');
      expect(JSON.parse(body)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', requestId: expect.stringMatching(/^req_/) });
    }
    expect(await rowCounts()).toEqual(before);
  });
});

describe('POST /api/v1/projects paths and branches', () => {
  it('refuses a relative path, saying it must be absolute (not resolved against the server)', async () => {
    const answer = await call('POST', '/api/v1/projects', { body: json({ path: '.' }) });
    expectProblem(answer, 400, 'PROJECT_PATH_INVALID');
    expect(answer.body.message).toMatch(/absolute/);
  });

  it('refuses a folder inside a checkout, naming the top level', async () => {
    const inside = join(checkout.path, 'src', 'deep');
    await mkdir(inside, { recursive: true });
    const answer = await call('POST', '/api/v1/projects', { body: json({ path: inside, id: 'inside' }) });
    expectProblem(answer, 400, 'PROJECT_PATH_INVALID');
    const top = await realpath(checkout.path);
    expect(answer.body.message).toContain(top);
    expect(answer.body.details).toMatchObject({ topLevel: top });
    expect((await stack.http('GET', '/api/v1/projects/inside')).status).toBe(404);
  });

  it('registers the top level given through a symlink or a trailing slash as its real path, with a valid default branch', async () => {
    const viaLink = await makeCheckout();
    const slashed = await makeCheckout();
    extra = [viaLink, slashed];
    const link = `${viaLink.path}-link`;
    await symlink(viaLink.path, link);
    extra.push({ path: link, remove: () => rm(link, { force: true }) });

    const linked = await stack.http<Project>('POST', '/api/v1/projects', { path: link, id: 'linked', defaultBranch: 'release/2.x' });
    expect(linked.status, JSON.stringify(linked.body)).toBe(201);
    expect(linked.body).toMatchObject({ path: await realpath(viaLink.path), defaultBranch: 'release/2.x' });

    const trailing = await stack.http<Project>('POST', '/api/v1/projects', { path: `${slashed.path}/`, id: 'slashed' });
    expect(trailing.status, JSON.stringify(trailing.body)).toBe(201);
    expect(trailing.body).toMatchObject({ path: await realpath(slashed.path), defaultBranch: 'main' });
  });
});

describe('the OpenAPI document', () => {
  it('lists VALIDATION_FAILED among the problem codes, and the sessions page with its nullable nextCursor', async () => {
    const doc = await stack.http<{
      components: { schemas: Record<string, { properties: Record<string, { enum?: string[]; type?: unknown }> }> };
      paths: Record<string, Record<string, { parameters?: Array<{ name: string }>; responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { type?: unknown }> } }> }> }>>;
    }>('GET', '/docs/json');
    const codes = doc.body.components.schemas.Problem?.properties.code?.enum ?? [];
    expect(codes).toContain('VALIDATION_FAILED');
    expect(codes).not.toContain('INVALID_CURSOR');
    const list = doc.body.paths['/api/v1/sessions']?.get;
    expect(list?.parameters?.map((p) => p.name).sort()).toEqual(['cursor', 'limit', 'projectId', 'state']);
    expect(list?.responses['200']?.content['application/json']?.schema.properties.nextCursor?.type).toEqual(['string', 'null']);
  });
});
