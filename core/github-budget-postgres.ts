import { randomUUID } from 'node:crypto';
import type { Pool } from './db/connect.js';
import { budgetSettings, countedPoints, epochMs, epochSeconds, tokenKey, waitForSlot, type BudgetWindow, type GitHubBudget, type GitHubBudgetSettings } from './github-budget.js';

/**
 * The shared GitHub budget of core/github-budget.ts kept in Postgres, for deployments without
 * Redis (zero-dependency mode): the same semantics as the Redis store, over the tables and
 * functions of migration 000008. Every time is Postgres's (clock_timestamp(), not now(): the
 * current instant, not the transaction's start), never this process's, so processes on hosts
 * whose clocks differ still agree on when a window resets, a block ends and a slot expires.
 */

export interface PostgresGitHubBudgetOptions extends GitHubBudgetSettings {
  db: Pool;
}

export function createPostgresGitHubBudget(options: PostgresGitHubBudgetOptions): GitHubBudget {
  const { db, prefix } = options;
  const { reservePercent, maxInFlight, slotTtlMs } = budgetSettings(options);

  return {
    maxInFlight,
    async record(window, cost = 0) {
      const reset = epochSeconds(window.resetAt);
      const later = db`b.reset_epoch is null or excluded.reset_epoch > b.reset_epoch`;
      const lowerOrLater = db`${later} or (excluded.reset_epoch = b.reset_epoch and excluded.remaining < b.remaining)`;
      // one statement, so concurrent answers are applied one after another on the row
      await db`
        insert into ao.github_budget as b (prefix, rate_limit, remaining, reset_epoch, reset_at, requests, points)
        values (${prefix}, ${window.limit}::float8, ${window.remaining}::float8, ${reset}::bigint, ${window.resetAt}, 1, ${countedPoints(cost)}::bigint)
        on conflict (prefix) do update set
          requests = b.requests + 1,
          points = b.points + excluded.points,
          rate_limit = case when ${lowerOrLater} then excluded.rate_limit else b.rate_limit end,
          remaining = case when ${lowerOrLater} then excluded.remaining else b.remaining end,
          -- within one window the resetAt first written stays, however GitHub spells it later
          reset_epoch = case when ${later} then excluded.reset_epoch else b.reset_epoch end,
          reset_at = case when ${later} then excluded.reset_at else b.reset_at end`;
    },
    async block(until) {
      // as an exact instant: Date.parse also takes HTTP dates, which Postgres would not read
      const at = new Date(epochMs(until)).toISOString();
      await db`
        insert into ao.github_budget as b (prefix, blocked_until) values (${prefix}, ${at}::timestamptz)
        on conflict (prefix) do update set blocked_until = greatest(b.blocked_until, excluded.blocked_until)`;
    },
    async read() {
      const [row] = await db<BudgetWindow[]>`
        select rate_limit as "limit", remaining, reset_at as "resetAt"
        from ao.github_budget where prefix = ${prefix} and rate_limit is not null`;
      return row ? { limit: row.limit, remaining: row.remaining, resetAt: row.resetAt } : null;
    },
    async usage() {
      const [row] = await db<Array<{ requests: number; points: number }>>`
        select requests::float8 as requests, points::float8 as points from ao.github_budget where prefix = ${prefix}`;
      return { requests: row?.requests ?? 0, points: row?.points ?? 0 };
    },
    async blockedUntil() {
      const [row] = await db<Array<{ until: number }>>`
        select round(extract(epoch from blocked_until) * 1000)::float8 as until
        from ao.github_budget where prefix = ${prefix} and blocked_until > clock_timestamp()`;
      return row ? new Date(row.until).toISOString() : null;
    },
    async admitBatch(estimatedCost) {
      const [answer] = await db<[{ verdict: 'ok' | 'blocked' | 'reserve'; blockedUntilMs: number | null; resetAt: string | null }]>`
        select verdict, blocked_until_ms as "blockedUntilMs", reset_at as "resetAt"
        from ao.github_budget_admit(${prefix}, ${estimatedCost}::float8, ${reservePercent}::float8)`;
      if (answer.verdict === 'ok') return { ok: true };
      if (answer.verdict === 'blocked' && answer.blockedUntilMs !== null) return { ok: false, until: new Date(answer.blockedUntilMs).toISOString(), reason: 'blocked' };
      if (answer.verdict === 'reserve' && answer.resetAt !== null) return { ok: false, until: answer.resetAt, reason: 'reserve' };
      throw new Error(`ao.github_budget_admit answered ${JSON.stringify(answer)}`);
    },
    async acquireSlot(token, slot = {}) {
      const holder = randomUUID();
      const key = tokenKey(token);
      const ttlMs = slot.ttlMs ?? slotTtlMs;
      await waitForSlot(async () => {
        const [row] = await db<[{ wait: number }]>`
          select ao.github_acquire_slot(${prefix}, ${key}, ${holder}::uuid, ${maxInFlight}::int, ${ttlMs}::float8) as wait`;
        return row.wait;
      }, slot);
      return async () => {
        await db`delete from ao.github_inflight where prefix = ${prefix} and token_key = ${key} and holder = ${holder}::uuid`;
      };
    },
  };
}
