import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Session } from '../../core/domain.js';
import { createGitHubClient } from '../../worker/github/client.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * GitHub's budget in a batch re-claim (issue 14), on a stack of its own: the budget in Redis learns
 * GitHub's window from answers only, and a window can only move forward, so this test's short
 * window must be the first one the stack's budget sees. PRs are seeded as in reclaims.test.ts.
 */

let stack: Stack;
let checkout: Awaited<ReturnType<typeof makeCheckout>>;
let owner: Session;
let next = 1;

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
  owner = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
}, 60_000);
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

/** `count` new PRs on the fake, claimed for `sessionId` directly in the store with the fake's own snapshots. */
async function seedPrs(count: number, sessionId = owner.id): Promise<number[]> {
  const numbers = Array.from({ length: count }, () => next++);
  for (const number of numbers) stack.github.addPullRequest('Acme', 'Widgets', { number, rollupState: 'SUCCESS' });
  const client = createGitHubClient({ url: stack.github.url, token: stack.github.token });
  for (let k = 0; k < numbers.length; k += 20) {
    const { items } = await client.fetchPullRequests(numbers.slice(k, k + 20).map((number) => ({ owner: 'Acme', repo: 'Widgets', number })));
    for (const item of items) {
      if (!item.ok) throw item.error;
      await stack.db.sql`select ao.claim_pr(null, null, ${sessionId}, true, ${stack.db.sql.json(item.snapshot as never)}::jsonb)`;
    }
  }
  return numbers;
}

async function reclaim(body: Record<string, unknown>): Promise<string> {
  const reply = await stack.http<{ jobId: string }>('POST', '/api/v1/pr/reclaims', body);
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  return reply.body.jobId;
}

describe("GitHub's budget", () => {
  it('at the reserve a batch waits for the reset, saying so, while a single claim still goes through; then it finishes', async () => {
    const numbers = await seedPrs(60);
    const claimant = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' })).body;
    // the window's last 20% is the reserve: the first request of the batch learns it, the next waits
    const resetAt = new Date(Date.now() + 5000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    stack.github.setRateLimit({ remaining: 1004, resetAt });
    const batchId = await reclaim({ prs: numbers.map((n) => `acme/widgets#${n}`) });
    await expect
      .poll(async () => (await stack.http<Job>('GET', `/api/v1/jobs/${batchId}`)).body.step, { timeout: 10_000 })
      .toBe(`waiting for GitHub's rate limit until ${resetAt}`);

    const claim = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${claimant.id}/pr/claim`, { pr: String(numbers[59]) });
    expect((await stack.waitForJob(claim.body.jobId)).state).toBe('succeeded');
    expect((await stack.http<Job>('GET', `/api/v1/jobs/${batchId}`)).body).toMatchObject({ state: 'running', progress: { done: 20, total: 60 } });

    const done = await stack.waitForJob(batchId, 30_000);
    expect(done).toMatchObject({ state: 'succeeded', result: { counts: { failed: 0 } }, progress: { done: 60, total: 60 } });
  }, 40_000);
});

