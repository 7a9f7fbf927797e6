import { graphql as octokitGraphql } from '@octokit/graphql';
import type { z } from 'zod';
import type { PrSnapshot } from '../../core/domain.js';
import { AoError } from '../../core/errors.js';
import type { PrSource } from '../pr-source.js';
import { classifyGitHubError } from './errors.js';
import { toSnapshot, type FullThread } from './map.js';
import { MERGEABILITY, MORE_COMMENTS, MORE_CONTEXTS, MORE_THREADS, PULL_REQUEST } from './query.js';
import { MergeabilityAnswer, MoreCommentsAnswer, MoreContextsAnswer, MoreThreadsAnswer, PullRequestAnswer, type Context, type PageInfo, type RateLimit } from './response.js';

export interface GitHubClientOptions {
  /** the GraphQL endpoint: https://api.github.com/graphql, https://<ghe>/api/graphql, or the fake */
  url: string;
  /** a token, or how to get one (called once per fetch; cache inside it) */
  token: string | (() => Promise<string>);
  /** per request; GitHub itself gives up after 10 s */
  timeoutMs?: number;
  userAgent?: string;
}

export interface PullRequestRef {
  owner: string;
  repo: string;
  number: number;
}

export interface FetchOptions {
  signal?: AbortSignal;
  /** how long after the first answer to re-read a mergeability GitHub has not computed yet */
  unknownMergeableRetryDelayMs?: number;
}

export interface FetchResult {
  snapshot: PrSnapshot;
  /** whether the fork's maintainers let the base repository's maintainers push to the head branch */
  maintainerCanModify: boolean;
  /** GraphQL requests this fetch made: 1, plus one per overflowing page, plus 1 for an UNKNOWN mergeability */
  requests: number;
  /** points spent by this fetch (summed), and the budget left after its last answer */
  rateLimit: { cost: number; remaining: number; resetAt: string } | null;
}

export interface GitHubClient extends PrSource {
  fetchPullRequest(ref: PullRequestRef, options?: FetchOptions): Promise<FetchResult>;
}

interface Page<T> {
  pageInfo: PageInfo;
  nodes: T[];
}

/**
 * `@octokit/graphql` posts to `baseUrl + url`. Splitting the configured endpoint into origin and
 * path serves github.com (/graphql), GitHub Enterprise (/api/graphql) and the fake alike; a GHES
 * REST base (/api/v3) given by mistake is turned into its GraphQL endpoint, as octokit does.
 */
export function splitEndpoint(endpoint: string): { baseUrl: string; url: string } {
  const parsed = new URL(endpoint);
  let path = parsed.pathname.replace(/\/+$/, '');
  if (path === '') path = '/graphql';
  path = path.replace(/\/api\/v3$/, '/api/graphql');
  return { baseUrl: parsed.origin, url: `${path}${parsed.search}` };
}

/**
 * The GitHub adapter (SPEC §3.3): one GraphQL request per PR in the common case. Only a connection
 * that overflows its first page costs more requests (one per further page), and a mergeability
 * GitHub has not computed yet costs one re-read. Every failure is an AoError (see errors.ts).
 */
export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const tokenOption = options.token;
  const getToken = typeof tokenOption === 'string' ? () => Promise.resolve(tokenOption) : tokenOption;
  const graphql = octokitGraphql.defaults({ ...splitEndpoint(options.url), headers: { 'user-agent': options.userAgent ?? 'ao' } });

  return {
    async fetchPullRequest(ref, fetchOptions = {}) {
      const what = `${ref.owner}/${ref.repo}#${ref.number}`;
      const observedAt = new Date().toISOString(); // when the fetch started: see PrSnapshot
      const { signal } = fetchOptions;
      let requests = 0;
      let rateLimit: FetchResult['rateLimit'] = null;

      const cancelled = (timeout?: AbortSignal): AoError | null => {
        if (signal?.aborted) return new AoError('SCM_UNAVAILABLE', `reading ${what} from GitHub was aborted`, { aborted: true });
        if (timeout?.aborted) return new AoError('SCM_UNAVAILABLE', `GitHub did not answer within ${timeoutMs} ms while reading ${what}`, { timeoutMs });
        return null;
      };

      let authorization: string;
      try {
        authorization = `bearer ${await getToken()}`;
      } catch (err) {
        if (err instanceof AoError) throw err;
        throw new AoError('SCM_AUTH_FAILED', `no GitHub token: ${err instanceof Error ? err.message : String(err)}`);
      }

      const ask = async <S extends z.ZodType<{ rateLimit?: RateLimit | null }>>(schema: S, query: string, variables: Record<string, unknown>): Promise<z.output<S>> => {
        const early = cancelled();
        if (early) throw early;
        const timeout = AbortSignal.timeout(timeoutMs);
        requests++;
        let raw: unknown;
        try {
          raw = await graphql(query, { ...variables, headers: { authorization }, request: { signal: signal ? AbortSignal.any([signal, timeout]) : timeout } });
        } catch (err) {
          throw cancelled(timeout) ?? classifyGitHubError(err, what);
        }
        const parsed = schema.safeParse(raw);
        if (!parsed.success) throw classifyGitHubError(parsed.error, what);
        const limit = parsed.data.rateLimit;
        if (limit) rateLimit = { cost: (rateLimit?.cost ?? 0) + limit.cost, remaining: limit.remaining, resetAt: limit.resetAt };
        return parsed.data;
      };

      const changed = () => new AoError('SCM_UNAVAILABLE', `${what} changed while it was being read from GitHub; a retry reads it afresh`);

      /** every node of a connection: its first page, then `next` pages while GitHub says there are more */
      const drain = async <T>(first: Page<T>, next: (after: string) => Promise<Page<T> | undefined>): Promise<T[]> => {
        const all = [...first.nodes];
        let { pageInfo } = first;
        const seen = new Set<string>();
        while (pageInfo.hasNextPage) {
          const after = pageInfo.endCursor;
          // a missing or repeated cursor would loop forever or silently truncate: fail instead
          if (!after || seen.has(after)) throw new AoError('SCM_UNAVAILABLE', `GitHub paged ${what} without a usable cursor`);
          seen.add(after);
          const page = await next(after);
          if (!page) throw changed();
          all.push(...page.nodes);
          pageInfo = page.pageInfo;
        }
        return all;
      };

      const first = await ask(PullRequestAnswer, PULL_REQUEST, { owner: ref.owner, name: ref.repo, number: ref.number });
      const firstAnsweredAt = Date.now();
      const pr = first.repository?.pullRequest;
      if (!pr) throw new AoError('PR_NOT_FOUND', `${what} was not found on GitHub (or the token cannot see its repository)`, { ref: what });

      const rollup = pr.statusCheckRollup;
      const contexts: Context[] = rollup
        ? await drain(rollup.contexts, async (after) => (await ask(MoreContextsAnswer, MORE_CONTEXTS, { id: rollup.id, after })).node?.contexts)
        : [];
      const threads = await drain(pr.reviewThreads, async (after) => (await ask(MoreThreadsAnswer, MORE_THREADS, { id: pr.id, after })).node?.reviewThreads);
      // sequential on purpose: a thread beyond 100 comments is rare, and requests are what GitHub meters
      const fullThreads: FullThread[] = [];
      for (const thread of threads) {
        const comments = await drain(thread.comments, async (after) => (await ask(MoreCommentsAnswer, MORE_COMMENTS, { id: thread.id, after })).node?.comments);
        fullThreads.push({ ...thread, comments });
      }

      // GitHub computes mergeability in a background job and answers UNKNOWN until it is done:
      // re-read just those two facts once, the delay counted from the first answer (paging above
      // already used some of it). Closed and merged PRs are not worth the wait.
      let facts = pr;
      if (pr.state === 'OPEN' && pr.mergeable === 'UNKNOWN') {
        const waitMs = (fetchOptions.unknownMergeableRetryDelayMs ?? 1500) - (Date.now() - firstAnsweredAt);
        if (waitMs > 0) await delay(waitMs, signal, () => cancelled() ?? changed());
        try {
          const again = (await ask(MergeabilityAnswer, MERGEABILITY, { id: pr.id })).node;
          if (again?.mergeable && again.mergeStateStatus) facts = { ...pr, mergeable: again.mergeable, mergeStateStatus: again.mergeStateStatus };
        } catch (err) {
          // the snapshot is complete without it (mergeability stays unknown); only a transient
          // failure is forgiven: aborts, rate limits and auth failures still end the fetch
          if (!(err instanceof AoError && err.code === 'SCM_UNAVAILABLE') || signal?.aborted) throw err;
        }
      }

      const snapshot = toSnapshot({ pr: facts, contexts, threads: fullThreads, observedAt, ref });
      return { snapshot, maintainerCanModify: pr.maintainerCanModify, requests, rateLimit };
    },
  };
}

/** setTimeout that an AbortSignal cuts short (rejecting with `onAbort()`), leaving no listener behind. */
function delay(ms: number, signal: AbortSignal | undefined, onAbort: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(onAbort());
    const abort = () => {
      clearTimeout(timer);
      reject(onAbort());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
