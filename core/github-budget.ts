import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AoError } from './errors.js';
import { delay } from './delay.js';
import { runScript } from './redis-script.js';

/**
 * One GitHub budget for every worker process (SPEC §6), kept under the BullMQ prefix in Redis
 * (here) or in Postgres when the queue runs there (github-budget-postgres.ts), with the same
 * semantics:
 *  - the primary window as GitHub last reported it (`limit`, `remaining`, `resetAt`), fed by every
 *    answer of every process;
 *  - `blockedUntil`: a secondary limit (403/429 with `retry-after`) or a spent primary window,
 *    which single claims and batches both wait out;
 *  - per token, at most `maxInFlight` batch requests at once, as a semaphore of expiring slots.
 * GitHub meters the token, so one budget key per deployment assumes one token (as ao runs).
 *
 * Batch work is admitted only while `remaining` stays above the reserve (`reservePercent` of the
 * limit); single claims ignore the reserve, so a user's claim is never starved by a refresh.
 * Times are compared with the store's clock (Redis's, Postgres's), the one clock every process shares.
 */

export interface BudgetWindow {
  limit: number;
  remaining: number;
  /** ISO, as GitHub gave it */
  resetAt: string;
}

/** `until`: when to ask again (ISO); `reason`: down to the reserve, or a block GitHub asked for */
export type Admission = { ok: true } | { ok: false; until: string; reason: 'reserve' | 'blocked' };

export interface SlotOptions {
  signal?: AbortSignal;
  /** how long a slot lives if its holder never gives it back (a dead process); longer than a request */
  ttlMs?: number;
  /** called once when the slot is not free at the first try */
  onWait?: () => void;
}

export interface GitHubBudget {
  readonly maxInFlight: number;
  /**
   * an answer's window: a later resetAt replaces what is known; within one window the lower
   * remaining wins. Each call also counts one answer and its `cost` (points) for GET /metrics.
   */
  record(window: BudgetWindow, cost?: number): Promise<void>;
  /** GitHub said to wait (secondary limit, spent window): nothing is sent before `until` (ISO) */
  block(until: string): Promise<void>;
  read(): Promise<BudgetWindow | null>;
  /** answers recorded and points they cost, over all processes, since the budget key was made */
  usage(): Promise<{ requests: number; points: number }>;
  /** the ISO time requests must wait for, or null */
  blockedUntil(): Promise<string | null>;
  /**
   * Whether a batch request of `estimatedCost` points may go now. Admitting takes the estimate
   * off `remaining` at once, so processes admitted at the same moment cannot together spend into
   * the reserve; the request's own answer then corrects it (lower wins, so the estimate should be
   * GitHub's exact cost, which pullRequestsCost is).
   */
  admitBatch(estimatedCost: number): Promise<Admission>;
  /** waits for one of the token's in-flight slots; the answer gives it back */
  acquireSlot(token: string, options?: SlotOptions): Promise<() => Promise<void>>;
}

/** What every budget store takes besides its connection. */
export interface GitHubBudgetSettings {
  /** the BullMQ prefix (AO_QUEUE_PREFIX) */
  prefix: string;
  /** the share of the limit batch work never spends (AO_GITHUB_RESERVE × 100) */
  reservePercent?: number;
  /** batch requests in flight per token, over all processes */
  maxInFlight?: number;
  slotTtlMs?: number;
}

export interface GitHubBudgetOptions extends GitHubBudgetSettings {
  redis: Redis;
}

/** Thrown (instead of sending) when batch work must wait; `until` is when to try again (ISO). */
export class BudgetExhausted extends AoError {
  readonly until: string;
  readonly reason: 'reserve' | 'blocked';
  constructor(until: string, reason: 'reserve' | 'blocked') {
    super(
      'SCM_RATE_LIMITED',
      reason === 'reserve'
        ? `GitHub's rate limit is down to the reserve kept for claims; batch work waits until ${until}`
        : `GitHub asked to wait until ${until}`,
      { retryAt: until, reason },
    );
    this.name = 'BudgetExhausted';
    this.until = until;
    this.reason = reason;
  }
}

// Redis TIME in milliseconds; allowed before writes since Redis 5 (effects replication)
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS[1] budget; ARGV limit, remaining, reset (epoch s), resetAt (ISO), cost (points)
const RECORD = `
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HINCRBY', KEYS[1], 'points', ARGV[5])
local known = redis.call('HMGET', KEYS[1], 'reset', 'remaining')
local reset, knownReset = tonumber(ARGV[3]), tonumber(known[1])
if knownReset == nil or reset > knownReset then
  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'remaining', ARGV[2], 'reset', ARGV[3], 'resetAt', ARGV[4])
elseif reset == knownReset and tonumber(ARGV[2]) < tonumber(known[2]) then
  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'remaining', ARGV[2])
end
return 0`;

// KEYS[1] budget; ARGV until (epoch ms)
const BLOCK = `
local known = tonumber(redis.call('HGET', KEYS[1], 'blockedUntil'))
if known == nil or tonumber(ARGV[1]) > known then redis.call('HSET', KEYS[1], 'blockedUntil', ARGV[1]) end
return 0`;

// KEYS[1] budget → the epoch ms to wait for, or 0
const BLOCKED = `${NOW}
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blockedUntil'))
if blocked ~= nil and blocked > now then return blocked end
return 0`;

// KEYS[1] budget; ARGV cost, reservePercent → {1} | {0, 'blocked', epoch ms} | {0, 'reserve', resetAt}
const ADMIT = `${NOW}
local h = redis.call('HMGET', KEYS[1], 'limit', 'remaining', 'reset', 'resetAt', 'blockedUntil')
local blocked = tonumber(h[5])
if blocked ~= nil and blocked > now then return {0, 'blocked', blocked} end
local limit, remaining, reset = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
-- nothing known yet, or the window GitHub reported has reset since: the first answer will tell
if limit == nil or reset * 1000 <= now then return {1} end
local cost = tonumber(ARGV[1])
if remaining - cost < math.ceil(limit * tonumber(ARGV[2]) / 100) then return {0, 'reserve', h[4]} end
redis.call('HSET', KEYS[1], 'remaining', remaining - cost)
return {1}`;

// KEYS[1] slots (member: holder id, score: expiry ms); ARGV id, max, ttl → 0 (taken) or ms until the first expiry
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)`;

const Admitted = z.union([
  z.tuple([z.literal(1)]),
  z.tuple([z.literal(0), z.literal('blocked'), z.number()]),
  z.tuple([z.literal(0), z.literal('reserve'), z.string()]),
]);
const Stored = z.object({ limit: z.coerce.number(), remaining: z.coerce.number(), resetAt: z.string() });

/** Stores name the token by a hash: keys and rows are visible to anyone who can read Redis or Postgres. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

export const epochSeconds = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${iso}`);
  return Math.floor(ms / 1000);
};

/** `until` of block() in epoch ms */
export const epochMs = (until: string): number => {
  const ms = Date.parse(until);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${until}`);
  return ms;
};

/** the points an answer is counted for in usage(): what GitHub charged, else nothing */
export const countedPoints = (cost: number): number => (Number.isFinite(cost) && cost > 0 ? Math.round(cost) : 0);

/** The settings with their defaults, checked: every store refuses the same bad values. */
export function budgetSettings(options: GitHubBudgetSettings): { reservePercent: number; maxInFlight: number; slotTtlMs: number } {
  const reservePercent = options.reservePercent ?? 20;
  const maxInFlight = options.maxInFlight ?? 4;
  const slotTtlMs = options.slotTtlMs ?? 30_000;
  if (!(reservePercent >= 0 && reservePercent < 100)) throw new RangeError(`reservePercent must be in 0..100, not ${reservePercent}`);
  if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new RangeError(`maxInFlight must be a positive integer, not ${maxInFlight}`);
  return { reservePercent, maxInFlight, slotTtlMs };
}

/**
 * Waits until `take` gets a slot. `take` answers 0 when it took one, else the ms until the first
 * slot held expires. Polled, not notified: a freed slot is seen within `pause`, and a dead
 * holder's at its expiry.
 */
export async function waitForSlot(take: () => Promise<number>, slot: SlotOptions): Promise<void> {
  let pause = 10;
  let waited = false;
  for (;;) {
    const wait = await take();
    if (wait === 0) return;
    if (!waited) slot.onWait?.();
    waited = true;
    await delay(Math.min(wait, pause), slot.signal, () => new AoError('SCM_UNAVAILABLE', 'waiting for a GitHub request slot was aborted', { aborted: true }));
    pause = Math.min(pause * 2, 200);
  }
}

export function createGitHubBudget(options: GitHubBudgetOptions): GitHubBudget {
  const { redis } = options;
  const { reservePercent, maxInFlight, slotTtlMs } = budgetSettings(options);
  const key = `${options.prefix}:github:budget`;
  const slotsKey = (token: string) => `${options.prefix}:github:inflight:${tokenKey(token)}`;

  return {
    maxInFlight,
    async record(window, cost = 0) {
      await runScript(redis, RECORD, [key], [window.limit, window.remaining, epochSeconds(window.resetAt), window.resetAt, countedPoints(cost)]);
    },
    async block(until) {
      await runScript(redis, BLOCK, [key], [epochMs(until)]);
    },
    async read() {
      const [limit, remaining, resetAt] = await redis.hmget(key, 'limit', 'remaining', 'resetAt');
      if (limit === null || remaining === null || resetAt === null) return null;
      return Stored.parse({ limit, remaining, resetAt });
    },
    async usage() {
      const [requests, points] = await redis.hmget(key, 'requests', 'points');
      return { requests: Number(requests ?? 0), points: Number(points ?? 0) };
    },
    async blockedUntil() {
      const until = z.number().parse(await runScript(redis, BLOCKED, [key], []));
      return until > 0 ? new Date(until).toISOString() : null;
    },
    async admitBatch(estimatedCost) {
      const answer = Admitted.parse(await runScript(redis, ADMIT, [key], [estimatedCost, reservePercent]));
      if (answer[0] === 1) return { ok: true };
      return answer[1] === 'blocked' ? { ok: false, until: new Date(answer[2]).toISOString(), reason: 'blocked' } : { ok: false, until: answer[2], reason: 'reserve' };
    },
    async acquireSlot(token, slot = {}) {
      const id = randomUUID();
      const slots = slotsKey(token);
      const ttlMs = slot.ttlMs ?? slotTtlMs;
      await waitForSlot(async () => z.number().parse(await runScript(redis, ACQUIRE, [slots], [id, maxInFlight, ttlMs])), slot);
      return async () => {
        await redis.zrem(slots, id);
      };
    },
  };
}
