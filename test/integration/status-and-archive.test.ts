import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project, Session } from '../../core/domain.js';
import { TEST_HOST_ID } from '../support/fixtures.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';
import { testQueueBackend } from '../support/env.js';

/** GET /api/v1/status and DELETE /api/v1/projects/{id} (SPEC §9). */

let stack: Stack;
let checkout: Awaited<ReturnType<typeof makeCheckout>>;

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

interface Status {
  version: string;
  queueBackend: string;
  postgres: { ok: boolean; serverVersion: string | null };
  hosts: Array<{ id: string; workers: number; lastSeenAt: string }>;
  github: { limit: number; remaining: number; resetAt: string } | null;
}

describe('GET /api/v1/status', () => {
  it("says ao's version, Postgres, the queue backend, this host's live worker, and GitHub's budget once GitHub has answered", async () => {
    const before = await stack.http<Status>('GET', '/api/v1/status');
    expect(before).toMatchObject({
      status: 200,
      body: { version: '0.1.0', queueBackend: testQueueBackend(), postgres: { ok: true }, github: null },
    });
    expect(before.body.postgres.serverVersion).toMatch(/^\d+/);
    expect(before.body.hosts).toEqual([{ id: TEST_HOST_ID, workers: 1, lastSeenAt: expect.any(String) }]);

    const session = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
    stack.github.addPullRequest('Acme', 'Widgets', { number: 1, rollupState: 'SUCCESS' });
    const claim = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${session.id}/pr/claim`, { pr: '1' });
    expect((await stack.waitForJob(claim.body.jobId)).state).toBe('succeeded');
    const after = await stack.http<Status>('GET', '/api/v1/status');
    expect(after.body.github).toEqual({ limit: 5000, remaining: expect.any(Number), resetAt: expect.any(String) });
    expect(after.body.github?.remaining).toBeLessThan(5000);

    await stack.stopWorker();
    try {
      const stopped = await stack.http<Status>('GET', '/api/v1/status');
      // a worker that stops says so; the host stays listed with when it was last seen
      expect(stopped.body.hosts).toEqual([{ id: TEST_HOST_ID, workers: 0, lastSeenAt: expect.any(String) }]);
    } finally {
      await stack.startWorker();
    }
  });
});

describe('DELETE /api/v1/projects/{id}', () => {
  it('refuses while live sessions exist, archives with force or once they are terminated, and then makes no new session in it', async () => {
    const other = await makeCheckout();
    try {
      expect((await stack.http('POST', '/api/v1/projects', { path: other.path, id: 'gadgets' })).status).toBe(201);
      const s = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'gadgets' })).body;
      expect(await stack.http('DELETE', '/api/v1/projects/gadgets')).toMatchObject({
        status: 409,
        body: { code: 'PROJECT_HAS_SESSIONS', details: { projectId: 'gadgets', liveSessions: 1 } },
      });
      expect((await stack.http<Project>('GET', '/api/v1/projects/gadgets')).body.archivedAt).toBeNull();

      expect((await stack.http('POST', `/api/v1/sessions/${s.id}/kill`)).status).toBe(200);
      expect((await stack.http('DELETE', '/api/v1/projects/gadgets')).status).toBe(204);
      const archived = (await stack.http<Project>('GET', '/api/v1/projects/gadgets')).body;
      expect(archived.archivedAt).toEqual(expect.any(String));
      expect((await stack.http('DELETE', '/api/v1/projects/gadgets')).status).toBe(204);
      expect((await stack.http<Project>('GET', '/api/v1/projects/gadgets')).body.archivedAt).toBe(archived.archivedAt);

      const [{ count: before }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.sessions where project_id = 'gadgets'`;
      expect(await stack.http('POST', '/api/v1/sessions', { projectId: 'gadgets' })).toMatchObject({ status: 404, body: { code: 'PROJECT_NOT_FOUND' } });
      const [{ count: after }] = await stack.db.sql<[{ count: number }]>`select count(*)::int from ao.sessions where project_id = 'gadgets'`;
      expect(after).toBe(before);
    } finally {
      await other.remove();
    }
  });

  it('archives a project with live sessions when forced, and answers 404 for an unknown one', async () => {
    const other = await makeCheckout();
    try {
      expect((await stack.http('POST', '/api/v1/projects', { path: other.path, id: 'gizmos' })).status).toBe(201);
      const s = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'gizmos' })).body;
      expect((await stack.http('DELETE', '/api/v1/projects/gizmos?force=true')).status).toBe(204);
      expect((await stack.http<Session>('GET', `/api/v1/sessions/${s.id}`)).body.state).toBe('active');
      expect(await stack.http('DELETE', '/api/v1/projects/nosuch')).toMatchObject({ status: 404, body: { code: 'PROJECT_NOT_FOUND' } });
    } finally {
      await other.remove();
    }
  });
});
