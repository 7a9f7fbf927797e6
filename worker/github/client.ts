import { graphql as octokitGraphql } from '@octokit/graphql';
import type { PrSnapshot } from '../../core/domain.js';
import { AoError } from '../../core/errors.js';
import type { PrRef, PrSource } from '../pr-source.js';
import { fetchBatch, type BatchFetchOptions, type BatchResult } from './batch.js';
import type { GitHubBudget } from '../../core/github-budget.js';
import { delay } from '../../core/delay.js';
import { toSnapshot } from './map.js';
import { changedWhileRead, readRest } from './pages.js';
import { FOLLOW_UP_COST, MERGEABILITY, PULL_REQUEST } from './query.js';
import { createRequester, type Transport } from './request.js';
import { MergeabilityAnswer, PullRequestAnswer } from './response.js';

export { DEFAULT_BATCH_SIZE, type BatchFetchOptions, type BatchItem, type BatchResult } from './batch.js';
export { BudgetExhausted, createGitHubBudget, type GitHubBudget } from '../../core/github-budget.js';

export interface GitHubClientOptions {
  /** the GraphQL endpoint: https://api.github.com/graphql, https://<ghe>/api/graphql, or the fake */
  url: string;
  /** a token, or how to get one (called once per fetch; cache inside it) */
  token: string | (() => Promise<string>);
  /** per request; GitHub itself gives up after 10 s */
  timeoutMs?: number;
  userAgent?: string;
  /**
   * The shared GitHub budget (budget.ts): every answer is recorded in it, a block GitHub asked
   * for holds every request, and batch requests also wait for a slot and stay above the reserve.
   */
  budget?: GitHubBudget;
}

/** owner/repo#number, as the ports name it (worker/pr-source.ts) */
export type PullRequestRef = PrRef;

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
  /**
   * Many PRs, `batchSize` per request (GraphQL aliases). A PR GitHub cannot give (not found, not
   * visible, changed while its pages were read) fails its own item; a failure of a whole request
   * (5xx, rate limit, auth, BudgetExhausted) rejects the call. Items come in the order of `refs`.
   */
  fetchPullRequests(refs: readonly PullRequestRef[], options?: BatchFetchOptions): Promise<BatchResult>;
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
  const tokenOption = options.token;
  const getToken = typeof tokenOption === 'string' ? () => Promise.resolve(tokenOption) : tokenOption;
  const transport: Transport = {
    graphql: octokitGraphql.defaults({ ...splitEndpoint(options.url), headers: { 'user-agent': options.userAgent ?? 'ao' } }),
    timeoutMs: options.timeoutMs ?? 10_000,
    ...(options.budget ? { budget: options.budget } : {}),
  };

  const token = async (): Promise<string> => {
    try {
      return await getToken();
    } catch (err) {
      if (err instanceof AoError) throw err;
      throw new AoError('SCM_AUTH_FAILED', `no GitHub token: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  return {
    async fetchPullRequest(ref, fetchOptions = {}) {
      const what = `${ref.owner}/${ref.repo}#${ref.number}`;
      const observedAt = new Date().toISOString(); // when the fetch started: see PrSnapshot
      const { signal } = fetchOptions;
      const requester = createRequester(transport, { token: await token(), kind: 'single', ...(signal ? { signal } : {}) });
      const meta = { what, cost: FOLLOW_UP_COST };

      const first = await requester.ask(PullRequestAnswer, PULL_REQUEST, { owner: ref.owner, name: ref.repo, number: ref.number }, meta);
      const firstAnsweredAt = Date.now();
      const pr = first.repository?.pullRequest;
      if (!pr) throw new AoError('PR_NOT_FOUND', `${what} was not found on GitHub (or the token cannot see its repository)`, { ref: what });

      const { contexts, threads } = await readRest(pr, (schema, query, variables) => requester.ask(schema, query, variables, meta), what);

      // GitHub computes mergeability in a background job and answers UNKNOWN until it is done:
      // re-read just those two facts once, the delay counted from the first answer (paging above
      // already used some of it). Closed and merged PRs are not worth the wait.
      let facts = pr;
      if (pr.state === 'OPEN' && pr.mergeable === 'UNKNOWN') {
        const waitMs = (fetchOptions.unknownMergeableRetryDelayMs ?? 1500) - (Date.now() - firstAnsweredAt);
        if (waitMs > 0) await delay(waitMs, signal, () => requester.cancelled(what) ?? changedWhileRead(what));
        try {
          const again = (await requester.ask(MergeabilityAnswer, MERGEABILITY, { id: pr.id }, meta)).node;
          if (again?.mergeable && again.mergeStateStatus) facts = { ...pr, mergeable: again.mergeable, mergeStateStatus: again.mergeStateStatus };
        } catch (err) {
          // the snapshot is complete without it (mergeability stays unknown); only a transient
          // failure is forgiven: aborts, rate limits and auth failures still end the fetch
          if (!(err instanceof AoError && err.code === 'SCM_UNAVAILABLE') || signal?.aborted) throw err;
        }
      }

      const snapshot = toSnapshot({ pr: facts, contexts, threads, observedAt, ref });
      const spent = requester.rateLimit;
      const rateLimit = spent ? { cost: spent.cost, remaining: spent.remaining, resetAt: spent.resetAt } : null;
      return { snapshot, maintainerCanModify: pr.maintainerCanModify, requests: requester.requests, rateLimit };
    },

    async fetchPullRequests(refs, batchOptions = {}) {
      if (refs.length === 0) return { items: [], requests: 0, rateLimit: null };
      return fetchBatch(transport, await token(), refs, batchOptions);
    },
  };
}
