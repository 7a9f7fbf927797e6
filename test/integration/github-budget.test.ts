import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type Pool } from '../../core/db/connect.js';
import { workerConnection } from '../../core/queue.js';
import { BudgetExhausted, createGitHubBudget, tokenKey, type GitHubBudget, type GitHubBudgetSettings } from '../../core/github-budget.js';
import { createPostgresGitHubBudget } from '../../core/github-budget-postgres.js';
import { createGitHubClient, type GitHubClient, type PullRequestRef } from '../../worker/github/client.js';
import { pullRequestsCost } from '../../worker/github/query.js';
import { startFakeGitHub, type FakeGitHub } from '../fake-github/index.js';
import { createTestDatabase, testRedisPrefix, testRedisUrl, type TestDatabase } from '../support/env.js';

/**
 * The shared GitHub budget against the fake GitHub over HTTP, with each store: real Redis, and
 * Postgres (a migrated test database). Each "process" is a client with a budget of its own over a
 * connection of its own; they share only the prefix.
 */

let github: FakeGitHub;
let database: TestDatabase;
const filePrefix = testRedisPrefix();
let testNumber = 0;
const refs: PullRequestRef[] = [];

/** What a process holds of its store: its connection, which dies with it. */
interface Connection {
  budget(settings: GitHubBudgetSettings): GitHubBudget;
  /** the process is gone: the connection drops without anything given back */
  kill(): Promise<void>;
  close(): Promise<void>;
}

interface Store {
  name: string;
  connect(): Connection;
  /** every key or row the budget of `prefix` has stored, as text */
  stored(prefix: string): Promise<string>;
}

const redisStore: Store = {
  name: 'Redis',
  connect() {
    const redis: Redis = workerConnection(testRedisUrl());
    return {
      budget: (settings) => createGitHubBudget({ redis, ...settings }),
      kill: () => Promise.resolve(redis.disconnect()),
      close: () => redis.quit().then(() => undefined),
    };
  },
  async stored(prefix) {
    const redis = workerConnection(testRedisUrl());
    try {
      const keys = await redis.keys(`${prefix}*`);
      const members = await Promise.all(keys.map(async (key) => ((await redis.type(key)) === 'zset' ? redis.zrange(key, 0, -1) : redis.hgetall(key).then((h) => Object.entries(h).flat()))));
      return [...keys, ...members.flat()].join(' ');
    } finally {
      redis.disconnect();
    }
  },
};

const postgresStore: Store = {
  name: 'Postgres',
  connect() {
    const db: Pool = connect(database.url, { max: 4, applicationName: 'ao-test-budget' });
    return {
      budget: (settings) => createPostgresGitHubBudget({ db, ...settings }),
      kill: () => db.end({ timeout: 0 }),
      close: () => db.end({ timeout: 5 }),
    };
  },
  async stored(prefix) {
    const rows = await database.sql<Array<{ row: string }>>`
      select row_to_json(b)::text as row from ao.github_budget b where prefix = ${prefix}
      union all select row_to_json(s)::text from ao.github_inflight s where prefix = ${prefix}`;
    return rows.map((r) => r.row).join(' ');
  },
};

const connections: Connection[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
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
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  await github.close();
  await database.close();
});

interface Process {
  budget: GitHubBudget;
  client: GitHubClient;
  connection: Connection;
  prefix: string;
}

/** `count` processes sharing one budget (a prefix of this test's own) */
function processes(store: Store, count: number, options: Partial<Omit<GitHubBudgetSettings, 'prefix'>> = {}): Process[] {
  const prefix = `${filePrefix}-${++testNumber}`;
  return Array.from({ length: count }, () => {
    const connection = store.connect();
    connections.push(connection);
    const budget = connection.budget({ prefix, ...options });
    return { budget, connection, prefix, client: createGitHubClient({ url: github.url, token: github.token, budget }) };
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

// a run without Redis (zero-dependency mode) still tests the Postgres store
const runHasRedis = Boolean(inject('aoTest').redisUrl);

for (const store of [redisStore, postgresStore]) {
  describe.skipIf(store === redisStore && !runHasRedis)(`GitHub budget in ${store.name}`, () => {
    it('keeps the newest window: a later resetAt replaces, within one window the lower remaining wins', async () => {
      const [{ budget }] = processes(store, 1) as [Process];
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
      const [a, b] = processes(store, 2) as [Process, Process];
      const single = await a.client.fetchPullRequest(refs[0] as PullRequestRef);
      expect(await b.budget.read()).toEqual({ limit: 5000, remaining: single.rateLimit?.remaining, resetAt: single.rateLimit?.resetAt });
      const batch = await b.client.fetchPullRequests(refs);
      expect(batch.rateLimit?.remaining).toBe((single.rateLimit?.remaining ?? 0) - pullRequestsCost(20));
      expect(await a.budget.read()).toMatchObject({ remaining: batch.rateLimit?.remaining });
      expect(await a.budget.usage()).toEqual({ requests: 2, points: (single.rateLimit?.cost ?? 0) + (batch.rateLimit?.cost ?? 0) });
    });

    it('keeps the latest block, and none once it has passed', async () => {
      const [a, b] = processes(store, 2) as [Process, Process];
      expect(await a.budget.blockedUntil()).toBeNull();
      expect(await a.budget.usage()).toEqual({ requests: 0, points: 0 });
      const later = new Date(Date.now() + 120_000).toISOString();
      await a.budget.block(later);
      await b.budget.block(new Date(Date.now() + 60_000).toUTCString()); // an HTTP date, and earlier
      expect(await b.budget.blockedUntil()).toBe(later);
      expect(await b.budget.admitBatch(1)).toEqual({ ok: false, until: later, reason: 'blocked' });
      expect(await b.budget.read()).toBeNull(); // a block alone is no window
      await expect(a.budget.block('soon')).rejects.toThrow(RangeError);

      const [c] = processes(store, 1) as [Process];
      await c.budget.block(new Date(Date.now() + 150).toISOString());
      expect(await c.budget.blockedUntil()).not.toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await c.budget.blockedUntil()).toBeNull();
      expect(await c.budget.admitBatch(1)).toEqual({ ok: true });
    });

    it('holds batch work at the reserve until resetAt while single claims go on; a new window lets batches go again', async () => {
      const [a, b] = processes(store, 2, { reservePercent: 20 }) as [Process, Process];
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
      const [a, b] = processes(store, 2) as [Process, Process];
      await a.budget.record({ limit: 5000, remaining: 1012, resetAt: inAnHour() });
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).budget.admitBatch(4)));
      expect(answers.filter((answer) => answer.ok)).toHaveLength(3);
      expect(await b.budget.read()).toMatchObject({ remaining: 1000 });
    });

    it('records a secondary limit as a block that single claims and batches both honour, in every process', async () => {
      const [a, b] = processes(store, 2) as [Process, Process];
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
      const [a, b] = processes(store, 2, { maxInFlight: 2 }) as [Process, Process];
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
      // the slots held are stored under a hash of the token, never the token
      const held = await store.stored(a.prefix);
      expect(held).toContain(tokenKey(github.token));
      expect(held).not.toContain(github.token);
      gate.release();
      const results = await Promise.all(calls);
      await tooMany;
      expect(results.every((result) => result.items.every((item) => item.ok))).toBe(true);
      expect(github.stats.requests).toBe(6);
      expect(github.stats.peakInFlight).toBe(2);
      expect(await store.stored(a.prefix)).not.toContain(github.token);
      expect(tokenKey(github.token)).not.toContain(github.token);
    });

    it('frees the slot of a holder that died, at its expiry', async () => {
      const [dead, alive] = processes(store, 2, { maxInFlight: 1 }) as [Process, Process];
      await dead.budget.acquireSlot(github.token, { ttlMs: 300 });
      await dead.connection.kill(); // the process is gone without giving its slot back
      let waited = 0;
      const started = Date.now();
      const result = await alive.client.fetchPullRequests([refs[0] as PullRequestRef], { onSlotWait: () => waited++ });
      expect(waited).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(result.items[0]?.ok).toBe(true);
    });

    it('refuses settings out of range', () => {
      const connection = store.connect();
      connections.push(connection);
      const prefix = `${filePrefix}-${++testNumber}`;
      expect(() => connection.budget({ prefix, reservePercent: 100 })).toThrow(RangeError);
      expect(() => connection.budget({ prefix, reservePercent: -1 })).toThrow(RangeError);
      expect(() => connection.budget({ prefix, maxInFlight: 0 })).toThrow(RangeError);
      expect(() => connection.budget({ prefix, maxInFlight: 1.5 })).toThrow(RangeError);
      expect(connection.budget({ prefix }).maxInFlight).toBe(4);
    });

    it('gives a slot back when its request fails', async () => {
      const [p] = processes(store, 1, { maxInFlight: 1 }) as [Process];
      github.failNext(1, 502);
      await expect(p.client.fetchPullRequests([refs[0] as PullRequestRef])).rejects.toMatchObject({ code: 'SCM_UNAVAILABLE' });
      let waited = 0;
      const result = await p.client.fetchPullRequests([refs[0] as PullRequestRef], { onSlotWait: () => waited++ });
      expect(waited).toBe(0);
      expect(result.items[0]?.ok).toBe(true);
    });
  });
}
