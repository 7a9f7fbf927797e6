import { GraphqlResponseError, type graphql as octokitGraphql } from '@octokit/graphql';
import type { z } from 'zod';
import { AoError } from '../../core/errors.js';
import { BudgetExhausted, type GitHubBudget } from '../../core/github-budget.js';
import { classifyGitHubError, classifyGraphqlErrors, isHttpError, windowFromHeaders, type GraphqlError, type Headers } from './errors.js';
import { RateLimit } from './response.js';

/**
 * One fetch's GraphQL requests (SPEC §3.3, §6): cancellation and the per-request timeout, the
 * budget's gate before each request, and every answer — good or bad — reported to the budget.
 * A fetch (one PR, or one call for many) makes one Requester and counts its requests there.
 */

export interface Transport {
  graphql: ReturnType<typeof octokitGraphql.defaults>;
  timeoutMs: number;
  budget?: GitHubBudget;
}

export interface RequesterOptions {
  token: string;
  signal?: AbortSignal;
  /**
   * single: a claim, held back only by a block GitHub asked for. batch: waits for a slot of the
   * token's in-flight limit and needs the budget's admission above the reserve.
   */
  kind: 'single' | 'batch';
  onSlotWait?: () => void;
}

export interface RequestMeta {
  /** names the PR(s) in messages */
  what: string;
  /** the points GitHub will charge (the budget's estimate) */
  cost: number;
}

export interface RateSummary {
  /** points spent by every answer so far, summed */
  cost: number;
  /** the window after the latest answer */
  remaining: number;
  limit: number;
  resetAt: string;
}

export interface PartialAnswer {
  data: Record<string, unknown>;
  /** the errors `isItemError` claimed; any other error failed the request */
  itemErrors: GraphqlError[];
}

export interface Requester {
  /** a request whose every GraphQL error fails it; the answer parsed by `schema` */
  ask<S extends z.ZodType>(schema: S, query: string, variables: Record<string, unknown>, meta: RequestMeta): Promise<z.output<S>>;
  /** a request whose answer may be partial: errors that `isItemError` accepts come back with the data */
  askPartial(query: string, variables: Record<string, unknown>, meta: RequestMeta & { isItemError(error: GraphqlError): boolean }): Promise<PartialAnswer>;
  /** an AoError when the caller aborted (or `timeout` fired) while reading `what`, else null */
  cancelled(what: string, timeout?: AbortSignal): AoError | null;
  readonly requests: number;
  readonly rateLimit: RateSummary | null;
}

// a slot must outlive the request it guards, whose timeout bounds it
const SLOT_MARGIN_MS = 5000;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function createRequester(transport: Transport, options: RequesterOptions): Requester {
  const { graphql, timeoutMs, budget } = transport;
  const { signal } = options;
  const authorization = `bearer ${options.token}`;
  let requests = 0;
  let rateLimit: RateSummary | null = null;

  const cancelled = (what: string, timeout?: AbortSignal): AoError | null => {
    if (signal?.aborted) return new AoError('SCM_UNAVAILABLE', `reading ${what} from GitHub was aborted`, { aborted: true });
    if (timeout?.aborted) return new AoError('SCM_UNAVAILABLE', `GitHub did not answer within ${timeoutMs} ms while reading ${what}`, { timeoutMs });
    return null;
  };

  /** the gate before a request; resolves to how to give its slot back */
  const admit = async (meta: RequestMeta): Promise<(() => Promise<void>) | null> => {
    if (!budget) return null;
    if (options.kind === 'single') {
      const until = await budget.blockedUntil();
      if (until) throw new BudgetExhausted(until, 'blocked');
      return null;
    }
    const release = await budget.acquireSlot(options.token, { signal, ttlMs: timeoutMs + SLOT_MARGIN_MS, onWait: options.onSlotWait });
    try {
      const admission = await budget.admitBatch(meta.cost);
      if (!admission.ok) throw new BudgetExhausted(admission.until, admission.reason);
    } catch (err) {
      await release();
      throw err;
    }
    return release;
  };

  const noteWindow = async (window: { limit: number; remaining: number; resetAt: string } | null, cost: number) => {
    if (!window) return;
    rateLimit = { cost: (rateLimit?.cost ?? 0) + cost, remaining: window.remaining, limit: window.limit, resetAt: window.resetAt };
    await budget?.record({ limit: window.limit, remaining: window.remaining, resetAt: window.resetAt }, cost);
  };

  /** the answer's `rateLimit` field, else the headers' window (errors may carry no data) */
  const noteAnswer = async (data: unknown, headers: Headers | undefined) => {
    const field = RateLimit.safeParse(isRecord(data) ? data.rateLimit : undefined);
    if (field.success) await noteWindow(field.data, field.data.cost);
    else await noteWindow(windowFromHeaders(headers), 0);
  };

  const failed = async (err: AoError) => {
    const retryAt = err.details?.retryAt;
    if (err.code === 'SCM_RATE_LIMITED' && typeof retryAt === 'string') await budget?.block(retryAt);
    return err;
  };

  const send = async (query: string, variables: Record<string, unknown>, meta: RequestMeta, isItemError?: (error: GraphqlError) => boolean): Promise<PartialAnswer> => {
    const early = cancelled(meta.what);
    if (early) throw early;
    const release = await admit(meta);
    try {
      const late = cancelled(meta.what); // while it waited for a slot
      if (late) throw late;
      const timeout = AbortSignal.timeout(timeoutMs);
      requests++;
      let data: unknown;
      try {
        data = await graphql(query, { ...variables, headers: { authorization }, request: { signal: signal ? AbortSignal.any([signal, timeout]) : timeout } });
      } catch (err) {
        const stopped = cancelled(meta.what, timeout);
        if (stopped) throw stopped;
        if (err instanceof GraphqlResponseError) {
          const headers = err.headers as Headers;
          await noteAnswer(err.data, headers);
          const errors = (err.errors as GraphqlError[] | undefined) ?? [];
          if (isItemError && isRecord(err.data) && errors.every(isItemError)) return { data: err.data, itemErrors: errors };
          throw await failed(classifyGraphqlErrors(errors.filter((e) => !isItemError?.(e)), headers, meta.what));
        }
        if (isHttpError(err)) await noteAnswer(undefined, err.response?.headers);
        throw await failed(classifyGitHubError(err, meta.what));
      }
      await noteAnswer(data, undefined);
      if (!isRecord(data)) throw new AoError('SCM_UNAVAILABLE', `GitHub's answer for ${meta.what} has no data`);
      return { data, itemErrors: [] };
    } finally {
      // a give-back that fails (Redis away) leaves the slot to its expiry; the answer stands
      await release?.().catch(() => undefined);
    }
  };

  return {
    async ask(schema, query, variables, meta) {
      const { data } = await send(query, variables, meta);
      const parsed = schema.safeParse(data);
      if (!parsed.success) throw classifyGitHubError(parsed.error, meta.what);
      return parsed.data;
    },
    askPartial: (query, variables, meta) => send(query, variables, meta, meta.isItemError),
    cancelled,
    get requests() {
      return requests;
    },
    get rateLimit() {
      return rateLimit;
    },
  };
}
