import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { workerConnection } from '../../core/queue.js';
import { BudgetExhausted, createGitHubBudget, tokenKey, type GitHubBudget, type GitHubBudgetOptions } from '../../core/github-budget.js';
import { createGitHubClient, type GitHubClient, type PullRequestRef } from '../../worker/github/client.js';
import { pullRequestsCost } from '../../worker/github/query.js';
import { startFakeGitHub, type FakeGitHub } from '../fake-github/index.js';
import { testRedisPrefix, testRedisUrl } from '../support/env.js';

/**
 * The shared GitHub budget against real Redis and the fake GitHub over HTTP. Each "process" is a
 * client with a budget of its own over its own Redis connection; they share only the prefix.
 */

let github: FakeGitHub;
const connections: Redis[] = [];
const filePrefix = testRedisPrefix();
let testNumber = 0;
const refs: PullRequestRef[] = [];

beforeAll(async () => {
  github = await startFakeGitHub();
  for (let number = 1; number <= 20; number++) {
    github.addPullRequest('acme', 'widgets', { number });
    refs.push({ owner: 'acme', repo: 'widgets', number });
  }
});
afterEach(() => {
  expect(github.stats.invalidQueries).toBe(0);
  github.reset();
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
  await github.close();
});

interface Process {
  budget: GitHubBudget;
  client: GitHubClient;
  redis: Redis;
}

/** `count` processes sharing one budget (a prefix of this test's own) */
function processes(count: number, options: Partial<Omit<GitHubBudgetOptions, 'redis' | 'prefix'>> = {}): Process[] {
  const prefix = `${filePrefix}-${++testNumber}`;
  return Array.from({ length: count }, () => {
    const redis = workerConnection(testRedisUrl());
    connections.push(redis);
    const budget = createGitHubBudget({ redis, prefix, ...options });
    return { budget, redis, client: createGitHubClient({ url: github.url, token: github.token, budget }) };
  });
}

const inAnHour = (minutes = 60) => new Date(Math.ceil((Date.now() + minutes * 60_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('GitHub budget', () => {
  it('keeps the newest window: a later resetAt replaces, within one window the lower remaining wins', async () => {
    const [{ budget }] = processes(1) as [Process];
    expect(await budget.read()).toBeNull();
    const reset = inAnHour();
    await budget.record({ limit: 5000, remaining: 4000, resetAt: reset });
    await budget.record({ limit: 5000, remaining: 4100, resetAt: reset }); // an older answer, arriving late
    expect(await budget.read()).toEqual({ limit: 5000, remaining: 4000, resetAt: reset });
    await budget.record({ limit: 5000, remaining: 3990, resetAt: reset });
    await budget.record({ limit: 5000, remaining: 10, resetAt: inAnHour(-30) }); // a previous window
    expect(await budget.read()).toEqual({ limit: 5000, remaining: 3990, resetAt: reset });
    const next = inAnHour(90);
    await budget.record({ limit: 5000, remaining: 4999, resetAt: next });
    expect(await budget.read()).toEqual({ limit: 5000, remaining: 4999, resetAt: next });
  });

  it('is shared: what one process reads from GitHub, single or batch, the other sees', async () => {
    const [a, b] = processes(2) as [Process, Process];
    const single = await a.client.fetchPullRequest(refs[0] as PullRequestRef);
    expect(await b.budget.read()).toEqual({ limit: 5000, remaining: single.rateLimit?.remaining, resetAt: single.rateLimit?.resetAt });
    const batch = await b.client.fetchPullRequests(refs);
    expect(batch.rateLimit?.remaining).toBe((single.rateLimit?.remaining ?? 0) - pullRequestsCost(20));
    expect(await a.budget.read()).toMatchObject({ remaining: batch.rateLimit?.remaining });
  });

  it('holds batch work at the reserve until resetAt while single claims go on; a new window lets batches go again', async () => {
    const [a, b] = processes(2, { reservePercent: 20 }) as [Process, Process];
    const resetAt = inAnHour(30);
    // 1,004 left of 5,000: one 20-PR batch (4 points) brings it to the reserve of 1,000
    github.setRateLimit({ remaining: 1004, resetAt });
    const first = await a.client.fetchPullRequests(refs);
    expect(first.rateLimit).toMatchObject({ remaining: 1000, resetAt });
    expect(first.items.every((item) => item.ok)).toBe(true);

    expect(await b.budget.admitBatch(pullRequestsCost(20))).toEqual({ ok: false, until: resetAt, reason: 'reserve' });
    const held = await rejection(b.client.fetchPullRequests(refs));
    expect(held).toBeInstanceOf(BudgetExhausted);
    expect(held).toMatchObject({ until: resetAt, code: 'SCM_RATE_LIMITED', details: { retryAt: resetAt, reason: 'reserve' } });
    expect(github.stats.requests).toBe(1); // nothing was sent

    const claim = await b.client.fetchPullRequest(refs[0] as PullRequestRef);
    expect(claim.rateLimit).toMatchObject({ remaining: 999, resetAt });
    expect(github.stats.requests).toBe(2);
    expect(await a.budget.read()).toMatchObject({ remaining: 999 });

    // GitHub's next window: the first answer from it (here a claim's) restores the batch budget
    const nextReset = inAnHour(90);
    github.setRateLimit({ remaining: 5000, resetAt: nextReset });
    await a.client.fetchPullRequest(refs[1] as PullRequestRef);
    expect(await b.budget.read()).toEqual({ limit: 5000, remaining: 4999, resetAt: nextReset });
    const again = await b.client.fetchPullRequests(refs);
    expect(again.items.every((item) => item.ok)).toBe(true);
    expect(again.rateLimit).toMatchObject({ remaining: 4999 - pullRequestsCost(20), resetAt: nextReset });
  });

  it('admits at most what stays above the reserve when processes ask at once', async () => {
    const [a, b] = processes(2) as [Process, Process];
    await a.budget.record({ limit: 5000, remaining: 1012, resetAt: inAnHour() });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).budget.admitBatch(4)));
    expect(answers.filter((answer) => answer.ok)).toHaveLength(3);
    expect(await b.budget.read()).toMatchObject({ remaining: 1000 });
  });

  it('records a secondary limit as a block that single claims and batches both honour, in every process', async () => {
    const [a, b] = processes(2) as [Process, Process];
    github.rateLimitNext(1, { form: 'secondary', resetInSeconds: 120 });
    const before = Date.now();
    const limited = await rejection(a.client.fetchPullRequest(refs[0] as PullRequestRef));
    expect(limited).toMatchObject({ code: 'SCM_RATE_LIMITED', details: { retryAt: expect.any(String) } });
    const until = await b.budget.blockedUntil();
    expect(Date.parse(until ?? '')).toBeGreaterThanOrEqual(before + 119_000);

    const single = await rejection(b.client.fetchPullRequest(refs[0] as PullRequestRef));
    expect(single).toBeInstanceOf(BudgetExhausted);
    expect(single).toMatchObject({ until, reason: 'blocked', details: { retryAt: until } });
    const batch = await rejection(a.client.fetchPullRequests(refs));
    expect(batch).toMatchObject({ until, reason: 'blocked' });
    expect(github.stats.requests).toBe(1);
  });

  it('never lets more than maxInFlight batch requests of one token be in flight, over processes', async () => {
    const [a, b] = processes(2, { maxInFlight: 2 }) as [Process, Process];
    const gate = github.holdRequests();
    let waiting = 0;
    let fourWaiting!: () => void;
    const fourAreWaiting = new Promise<void>((resolve) => (fourWaiting = resolve));
    const onSlotWait = () => {
      if (++waiting === 4) fourWaiting();
    };
    const calls = refs.slice(0, 6).map((ref, i) => (i % 2 ? a : b).client.fetchPullRequests([ref], { onSlotWait }));
    // a third request reaching GitHub before four callers wait for a slot is the failure
    const tooMany = github.waitForRequests(3, 60_000).then(() => {
      if (waiting < 4) throw new Error(`a third request was sent while two were in flight (${waiting} waiting)`);
    });
    tooMany.catch(() => undefined);
    await github.waitForRequests(2);
    await Promise.race([fourAreWaiting, tooMany]);
    // two held at GitHub, four waiting for a slot: none of them was sent
    expect(github.stats.requests).toBe(2);
    expect(github.stats.inFlight).toBe(2);
    gate.release();
    const results = await Promise.all(calls);
    await tooMany;
    expect(results.every((result) => result.items.every((item) => item.ok))).toBe(true);
    expect(github.stats.requests).toBe(6);
    expect(github.stats.peakInFlight).toBe(2);
    // the slots are keyed by a hash of the token, never the token
    const keys = await a.redis.keys(`${filePrefix}*`);
    expect(keys.join(' ')).not.toContain(github.token);
    expect(tokenKey(github.token)).not.toContain(github.token);
  });

  it('frees the slot of a holder that died, at its expiry', async () => {
    const [dead, alive] = processes(2, { maxInFlight: 1 }) as [Process, Process];
    await dead.budget.acquireSlot(github.token, { ttlMs: 300 });
    dead.redis.disconnect(); // the process is gone without giving its slot back
    let waited = 0;
    const started = Date.now();
    const result = await alive.client.fetchPullRequests([refs[0] as PullRequestRef], { onSlotWait: () => waited++ });
    expect(waited).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(result.items[0]?.ok).toBe(true);
  });

  it('gives a slot back when its request fails', async () => {
    const [p] = processes(1, { maxInFlight: 1 }) as [Process];
    github.failNext(1, 502);
    await expect(p.client.fetchPullRequests([refs[0] as PullRequestRef])).rejects.toMatchObject({ code: 'SCM_UNAVAILABLE' });
    let waited = 0;
    const result = await p.client.fetchPullRequests([refs[0] as PullRequestRef], { onSlotWait: () => waited++ });
    expect(waited).toBe(0);
    expect(result.items[0]?.ok).toBe(true);
  });
});
