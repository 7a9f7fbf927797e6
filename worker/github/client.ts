import { graphql as octokitGraphql } from '@octokit/graphql';
import type { PrSnapshot } from '../../core/domain.js';
import type { PrSource } from '../pr-source.js';
import { classifyGitHubError } from './errors.js';
import { toSnapshot } from './map.js';
import { MERGEABILITY, MORE_COMMENTS, MORE_CONTEXTS, MORE_THREADS, PULL_REQUEST } from './query.js';
import { MergeabilityAnswer, MoreCommentsAnswer, MoreContextsAnswer, MoreThreadsAnswer, PullRequestAnswer, type Comment, type Context, type Thread } from './response.js';
import type { z } from 'zod';

export interface GitHubClientOptions {
  /** the GraphQL endpoint: https://api.github.com/graphql, https://<ghe>/api/graphql, or the fake */
  url: string;
  token: string | (() => Promise<string>);
  timeoutMs?: number;
  userAgent?: string;
}

export interface FetchResult {
  snapshot: PrSnapshot;
  /** GraphQL requests this fetch made */
  requests: number;
  rateLimit: { cost: number; remaining: number; resetAt: string } | null;
}

export interface GitHubClient extends PrSource {
  fetchPullRequest(
    ref: { owner: string; repo: string; number: number },
    options?: { signal?: AbortSignal; unknownMergeableRetryDelayMs?: number },
  ): Promise<FetchResult>;
}

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const token = typeof options.token === 'string' ? () => Promise.resolve(options.token as string) : options.token;
  // @octokit/graphql posts to baseUrl + url; both come from the configured endpoint, so
  // github.com, GitHub Enterprise (/api/graphql) and the fake all work
  const endpoint = new URL(options.url);
  const graphql = octokitGraphql.defaults({
    baseUrl: endpoint.origin,
    url: endpoint.pathname,
    headers: { 'user-agent': options.userAgent ?? 'ao' },
  });

  return {
    async fetchPullRequest(ref, fetchOptions = {}) {
      const what = `${ref.owner}/${ref.repo}#${ref.number}`;
      const observedAt = new Date().toISOString();
      let requests = 0;
      let rateLimit: FetchResult['rateLimit'] = null;

      const ask = async <S extends z.ZodType>(schema: S, query: string, variables: Record<string, unknown>): Promise<z.infer<S>> => {
        const signals = [AbortSignal.timeout(timeoutMs), ...(fetchOptions.signal ? [fetchOptions.signal] : [])];
        requests++;
        try {
          const raw: unknown = await graphql(query, {
            ...variables,
            headers: { authorization: `bearer ${await token()}` },
            request: { signal: AbortSignal.any(signals) },
          });
          const answer = schema.parse(raw) as z.infer<S> & { rateLimit?: FetchResult['rateLimit'] };
          rateLimit = answer.rateLimit ?? rateLimit;
          return answer;
        } catch (err) {
          throw classifyGitHubError(err, what);
        }
      };

      const first = await ask(PullRequestAnswer, PULL_REQUEST, { owner: ref.owner, name: ref.repo, number: ref.number });
      const pr = first.repository?.pullRequest;
      if (!pr) throw classifyGitHubError(Object.assign(new Error('not found'), { status: 404 }), what);

      // page only the connections that overflow
      const contexts: Context[] = (pr.statusCheckRollup?.contexts.nodes ?? []).filter((c) => c !== null);
      let contextPage = pr.statusCheckRollup?.contexts.pageInfo;
      while (pr.statusCheckRollup && contextPage?.hasNextPage && contextPage.endCursor) {
        const more = await ask(MoreContextsAnswer, MORE_CONTEXTS, { id: pr.statusCheckRollup.id, after: contextPage.endCursor });
        contexts.push(...(more.node?.contexts.nodes ?? []).filter((c) => c !== null));
        contextPage = more.node?.contexts.pageInfo;
      }

      const threads: Thread[] = pr.reviewThreads.nodes.filter((t) => t !== null);
      let threadPage = pr.reviewThreads.pageInfo;
      while (threadPage.hasNextPage && threadPage.endCursor) {
        const more = await ask(MoreThreadsAnswer, MORE_THREADS, { id: pr.id, after: threadPage.endCursor });
        threads.push(...(more.node?.reviewThreads.nodes ?? []).filter((t) => t !== null));
        threadPage = more.node?.reviewThreads.pageInfo ?? { hasNextPage: false, endCursor: null };
      }

      const fullThreads: Array<Thread & { allComments: Comment[] }> = [];
      for (const thread of threads) {
        const allComments = thread.comments.nodes.filter((c) => c !== null);
        let page = thread.comments.pageInfo;
        while (page.hasNextPage && page.endCursor) {
          const more = await ask(MoreCommentsAnswer, MORE_COMMENTS, { id: thread.id, after: page.endCursor });
          allComments.push(...(more.node?.comments.nodes ?? []).filter((c) => c !== null));
          page = more.node?.comments.pageInfo ?? { hasNextPage: false, endCursor: null };
        }
        fullThreads.push({ ...thread, allComments });
      }

      // GitHub computes mergeability in the background: one re-read after a short delay
      let facts = pr;
      if (pr.state === 'OPEN' && pr.mergeable === 'UNKNOWN') {
        await delay(fetchOptions.unknownMergeableRetryDelayMs ?? 1500, fetchOptions.signal);
        const again = await ask(MergeabilityAnswer, MERGEABILITY, { id: pr.id });
        if (again.node) facts = { ...pr, mergeable: again.node.mergeable, mergeStateStatus: again.node.mergeStateStatus };
      }

      return { snapshot: toSnapshot(facts, contexts, fullThreads, observedAt), requests, rateLimit };
    },
  };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(classifyGitHubError(signal.reason, 'the PR'));
      },
      { once: true },
    );
  });
}
