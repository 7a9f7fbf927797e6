import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * No orphan survives a failed spawn-with-claim (issue #4): the server removes a provisional
 * session when its claim fails or its lease runs out, whatever happened to the CLI.
 */

const LEASE_SECONDS = 4;
let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let number = 1;

beforeAll(async () => {
  stack = await startStack({ provisionalLeaseSeconds: LEASE_SECONDS });
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

async function provisional(projectId = 'widgets'): Promise<Session> {
  const { status, body } = await stack.http<Session>('POST', '/api/v1/sessions', { projectId, provisional: true });
  expect(status).toBe(201);
  expect(body.state).toBe('provisional');
  return body;
}

async function claim(sessionId: string, body: unknown): Promise<Job> {
  const accepted = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, body);
  expect(accepted.status).toBe(202);
  return stack.waitForJob(accepted.body.jobId);
}

async function sessionRow(id: string): Promise<{ state: string } | undefined> {
  const [row] = await stack.db.sql<[{ state: string }?]>`select state from ao.sessions where id = ${id}`;
  return row;
}

/** polls until the database says the lease of `id` is over (no sleeping on a guess) */
async function leaseOver(id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await stack.db.sql<[{ over: boolean }]>`select lease_expires_at < now() as over from ao.sessions where id = ${id}`;
    if (row?.over) return;
    if (Date.now() > deadline) throw new Error(`lease of ${id} not over`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('spawn with a claim', () => {
  it('activates the provisional session when its claim succeeds', async () => {
    const s = await provisional();
    stack.github.addPullRequest('Acme', 'Widgets', { number: number++ });
    const job = await claim(s.id, { pr: String(number - 1) });
    expect(job).toMatchObject({ kind: 'spawn_claim', state: 'succeeded' });
    const after = (await stack.http<Session>('GET', `/api/v1/sessions/${s.id}`)).body;
    expect(after).toMatchObject({ state: 'active', leaseExpiresAt: null });
    expect(existsSync(s.workspacePath)).toBe(true);
  });

  it.each([
    ['an unknown PR', 'PR_NOT_FOUND', () => ({ pr: '424242' })],
    ['a merged PR', 'PR_NOT_OPEN', () => {
      stack.github.addPullRequest('Acme', 'Widgets', { number: number++, state: 'MERGED' });
      return { pr: String(number - 1) };
    }],
  ])('removes the session and its worktree when the claim fails (%s)', async (_case, code, body) => {
    const s = await provisional();
    const job = await claim(s.id, body());
    expect(job).toMatchObject({ kind: 'spawn_claim', state: 'compensated', error: { code, details: { sessionId: s.id, sessionRemoved: true } } });
    expect(await sessionRow(s.id)).toBeUndefined();
    expect(existsSync(s.workspacePath)).toBe(false);
  });

  it('removes the session when the PR is claimed by an active session and takeover is refused; the owner keeps it', async () => {
    const owner = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
    stack.github.addPullRequest('Acme', 'Widgets', { number: number++ });
    const pr = String(number - 1);
    expect((await claim(owner.id, { pr })).state).toBe('succeeded');
    const s = await provisional();
    const job = await claim(s.id, { pr, allowTakeover: false });
    expect(job).toMatchObject({ state: 'compensated', error: { code: 'PR_CLAIMED_BY_ACTIVE_SESSION', details: { ownerSessionId: owner.id } } });
    expect(await sessionRow(s.id)).toBeUndefined();
    const [row] = await stack.db.sql<[{ session_id: string }]>`select session_id from ao.pull_requests where number = ${Number(pr)}`;
    expect(row.session_id).toBe(owner.id);
  });

  it('reports compensation_failed and leaves the session findable when its worktree cannot be removed', async () => {
    const repo = await makeCheckout();
    await stack.http('POST', '/api/v1/projects', { path: repo.path, id: 'fragile' });
    const s = await provisional('fragile');
    await rm(repo.path, { recursive: true, force: true }); // git can no longer reach the checkout
    const job = await claim(s.id, { pr: '424243' });
    expect(job).toMatchObject({ state: 'compensation_failed', error: { code: 'PR_NOT_FOUND', details: { sessionId: s.id } } });
    expect(job.error?.details?.compensationError).toEqual(expect.any(String));
    expect(await sessionRow(s.id)).toEqual({ state: 'provisional' });
  });

  it('removes a provisional session whose lease ran out without a claim, and refuses a late claim', async () => {
    const s = await provisional();
    const active = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
    await leaseOver(s.id);
    const late = await stack.http('POST', `/api/v1/sessions/${s.id}/pr/claim`, { pr: '1' });
    expect(late).toMatchObject({ status: 409, body: { code: 'SESSION_TERMINATED' } });
    // the janitor runs on its interval; run it now rather than waiting for it
    await stack.worker().cleanNow();
    expect(await sessionRow(s.id)).toBeUndefined();
    expect(existsSync(s.workspacePath)).toBe(false);
    expect(await sessionRow(active.id)).toEqual({ state: 'active' });
  });
});
