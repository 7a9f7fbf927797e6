import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Project, Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/** The HTTP surface: error shape, routing, limits, auth, OpenAPI, resources other than claims. */

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  checkout = await makeCheckout('git@github.com:Acme/Widgets.git');
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

describe('projects', () => {
  it('registers a checkout with id from the folder, origin and default branch from git', async () => {
    const created = await stack.http<Project>('POST', '/api/v1/projects', { path: checkout.path });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ repoUrl: 'https://github.com/Acme/Widgets', defaultBranch: 'main', archivedAt: null });
    expect(created.body.id).toMatch(/^ao-checkout-/);

    const again = await stack.http('POST', '/api/v1/projects', { path: checkout.path });
    expect(again).toMatchObject({ status: 409, body: { code: 'PROJECT_EXISTS' } });
    const list = await stack.http<{ projects: Project[] }>('GET', '/api/v1/projects');
    expect(list.body.projects.map((p) => p.id)).toContain(created.body.id);
    expect((await stack.http('GET', `/api/v1/projects/${created.body.id}`)).body).toEqual(created.body);
  });

  it('refuses a path that is not a git checkout', async () => {
    const reply = await stack.http('POST', '/api/v1/projects', { path: '/definitely/not/here', id: 'nope' });
    expect(reply).toMatchObject({ status: 400, body: { code: 'PROJECT_PATH_INVALID' } });
  });

  it('answers PROJECT_NOT_FOUND for an unknown project', async () => {
    expect(await stack.http('GET', '/api/v1/projects/missing')).toMatchObject({ status: 404, body: { code: 'PROJECT_NOT_FOUND' } });
  });
});

describe('sessions', () => {
  it('creates a worker with a real worktree on ao/<id>/root, lists, kills and deletes it', async () => {
    await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'sess' });
    const created = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'sess' });
    expect(created.status).toBe(201);
    const s = created.body;
    expect(s).toMatchObject({ id: 'sess-1', kind: 'worker', state: 'active', branch: 'ao/sess-1/root', leaseExpiresAt: null });
    expect(s.workspacePath).toContain('sess-1');

    const listed = await stack.http<{ sessions: Session[] }>('GET', '/api/v1/sessions?projectId=sess&state=active');
    expect(listed.body.sessions.map((x) => x.id)).toEqual(['sess-1']);
    const killed = await stack.http<Session>('POST', `/api/v1/sessions/${s.id}/kill`);
    expect(killed.body.state).toBe('terminated');

    expect((await stack.http('DELETE', `/api/v1/sessions/${s.id}`)).status).toBe(204);
    expect(await stack.http('GET', `/api/v1/sessions/${s.id}`)).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
  });

  it('creates a provisional session with a lease', async () => {
    await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'prov' });
    const created = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'prov', provisional: true });
    expect(created.body.state).toBe('provisional');
    expect(Date.parse(created.body.leaseExpiresAt ?? '')).toBeGreaterThan(Date.now());
  });

  it('refuses an unknown project and leaves no session behind', async () => {
    const reply = await stack.http('POST', '/api/v1/sessions', { projectId: 'ghost' });
    expect(reply).toMatchObject({ status: 404, body: { code: 'PROJECT_NOT_FOUND' } });
  });

  it('refuses an invalid branch name and leaves no session behind', async () => {
    await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'badbranch' });
    const reply = await stack.http('POST', '/api/v1/sessions', { projectId: 'badbranch', branch: 'bad..name' });
    expect(reply).toMatchObject({ status: 400, body: { code: 'BRANCH_INVALID' } });
    const listed = await stack.http<{ sessions: Session[] }>('GET', '/api/v1/sessions?projectId=badbranch');
    expect(listed.body.sessions).toEqual([]);
  });
});

describe('jobs and events', () => {
  it('answers JOB_NOT_FOUND for an unknown job, waiting or not', async () => {
    expect(await stack.http('GET', '/api/v1/jobs/job_nope')).toMatchObject({ status: 404, body: { code: 'JOB_NOT_FOUND' } });
    expect(await stack.http('GET', '/api/v1/jobs/job_nope?wait=1')).toMatchObject({ status: 404, body: { code: 'JOB_NOT_FOUND' } });
  });

  it('long-polls an unfinished job until the wait runs out and says when to come back', async () => {
    await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'lp' });
    const s = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'lp' })).body;
    stack.github.addPullRequest('Acme', 'Widgets', { number: 7 });
    const accepted = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${s.id}/pr/claim`, { pr: '7' });
    const started = Date.now();
    const reply = await stack.http<Job>('GET', `/api/v1/jobs/${accepted.body.jobId}?wait=1`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(reply.status).toBe(200);
    expect(reply.body.state).toBe('queued'); // no worker runs in this file
    expect(reply.headers.get('retry-after')).toBe('1');
  });

  it('rejects a wait above 60 seconds', async () => {
    expect(await stack.http('GET', '/api/v1/jobs/job_x?wait=61')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });

  it('pages events with nextCursor and rejects a bad cursor', async () => {
    const first = await stack.http<{ events: Array<{ id: string; type: string }>; nextCursor: string }>('GET', '/api/v1/events?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.events).toHaveLength(2);
    const second = await stack.http<{ events: Array<{ id: string }> }>('GET', `/api/v1/events?after=${first.body.nextCursor}&limit=2`);
    expect(second.body.events[0]?.id).not.toBe(first.body.events[1]?.id);
    expect(await stack.http('GET', '/api/v1/events?after=bogus')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await stack.http('GET', '/api/v1/events?limit=1001')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });
});

describe('HTTP surface', () => {
  it('answers an unknown route with 404 ROUTE_NOT_FOUND and a wrong method with 405', async () => {
    expect(await stack.http('GET', '/api/v1/nope')).toMatchObject({ status: 404, body: { code: 'ROUTE_NOT_FOUND' } });
    expect(await stack.http('PUT', '/api/v1/projects')).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('refuses a body over the limit with 413 BODY_TOO_LARGE', async () => {
    const reply = await stack.http('POST', '/api/v1/projects', { path: 'x'.repeat(2 * 1024 * 1024) });
    expect(reply).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE' } });
  });

  it('never leaks a stack trace', async () => {
    const reply = await stack.http<Record<string, unknown>>('POST', '/api/v1/sessions/x/pr/claim', '{"pr":');
    expect(reply.status).toBe(400);
    expect(JSON.stringify(reply.body)).not.toMatch(/at .+\.(ts|js):\d+/);
    expect(Object.keys(reply.body).sort()).toEqual(['code', 'message', 'requestId', 'status', 'title', 'type']);
  });

  it('serves health, readiness and an OpenAPI 3.1 document listing the API routes', async () => {
    expect(await stack.http('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await stack.http('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const doc = await stack.http<{ openapi: string; paths: Record<string, Record<string, unknown>> }>('GET', '/docs/json');
    expect(doc.body.openapi).toBe('3.1.0');
    const routes = Object.entries(doc.body.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'POST /api/v1/projects',
        'POST /api/v1/pr/reclaims',
        'GET /api/v1/projects',
        'GET /api/v1/projects/{id}',
        'DELETE /api/v1/projects/{id}',
        'GET /api/v1/status',
        'POST /api/v1/sessions',
        'GET /api/v1/sessions',
        'GET /api/v1/sessions/{id}',
        'POST /api/v1/sessions/{id}/kill',
        'DELETE /api/v1/sessions/{id}',
        'GET /api/v1/sessions/{id}/pr',
        'POST /api/v1/sessions/{id}/pr/claim',
        'GET /api/v1/jobs',
        'GET /api/v1/jobs/{id}',
        'DELETE /api/v1/jobs/{id}',
        'GET /api/v1/jobs/{id}/items',
        'GET /api/v1/events',
        'GET /api/v1/events/stream',
      ].sort(),
    );
  });
});

describe('bearer token', () => {
  let secured: Stack;
  beforeAll(async () => {
    secured = await startStack({ worker: false, apiToken: 'a-very-secret-token-1234' });
  });
  afterAll(async () => {
    await secured.close();
  });

  it('requires the token on every route but health', async () => {
    expect(await secured.http('GET', '/api/v1/projects')).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect((await secured.http('GET', '/api/v1/projects', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await secured.http('GET', '/api/v1/projects', undefined, { authorization: 'Bearer a-very-secret-token-1234' })).status).toBe(200);
    expect((await secured.http('GET', '/healthz')).status).toBe(200);
  });
});
