import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/** bull-board at /admin/queues (SPEC §7, issue 15): every queue of ao, read-only without a token, behind the token with one. */

const TOKEN = 'dashboard-token-0123456789';
let open: Stack;
let guarded: Stack;

beforeAll(async () => {
  [open, guarded] = await Promise.all([startStack({ worker: false }), startStack({ worker: false, apiToken: TOKEN })]);
});
afterAll(async () => {
  await Promise.all([open.close(), guarded.close()]);
});

interface QueueList {
  queues: Array<{ name: string; readOnlyMode: boolean }>;
}

describe('GET /admin/queues', () => {
  it('serves the dashboard and lists the re-claim queue and this host\'s claim and host-work queues, read-only without a token', async () => {
    const page = await fetch(`${open.api}/admin/queues`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const list = await open.http<QueueList>('GET', '/admin/queues/api/queues');
    expect(list.status).toBe(200);
    expect(list.body.queues.map((q) => q.name).sort()).toEqual(['claims-test', 'host-test', 'reclaims']);
    expect(list.body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('is behind the API token when there is one, and then lets its holder act on jobs', async () => {
    expect((await fetch(`${guarded.api}/admin/queues`)).status).toBe(401);
    expect((await guarded.http('GET', '/admin/queues/api/queues')).status).toBe(401);
    const list = await guarded.http<QueueList>('GET', '/admin/queues/api/queues', undefined, { authorization: `Bearer ${TOKEN}` });
    expect(list.status).toBe(200);
    expect(list.body.queues.length).toBe(3);
    expect(list.body.queues.every((q) => !q.readOnlyMode)).toBe(true);
  });

  it('is not part of the API document', async () => {
    const doc = await open.http<{ paths: Record<string, unknown> }>('GET', '/docs/json');
    expect(Object.keys(doc.body.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
  });
});
