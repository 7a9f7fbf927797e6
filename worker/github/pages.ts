import type { z } from 'zod';
import { AoError } from '../../core/errors.js';
import type { FullThread } from './map.js';
import { MORE_COMMENTS, MORE_CONTEXTS, MORE_THREADS } from './query.js';
import { MoreCommentsAnswer, MoreContextsAnswer, MoreThreadsAnswer, type Context, type PageInfo, type PullRequest } from './response.js';

/**
 * The rest of one PR after its first answer (single claim and batch alike): every connection
 * that overflowed its first page is read to the end with the `node(id:)` follow-ups, one
 * request per page; a connection that fit costs nothing more.
 */

interface Page<T> {
  pageInfo: PageInfo;
  nodes: T[];
}

/** one follow-up request for this PR */
export type FollowUp = <S extends z.ZodType>(schema: S, query: string, variables: Record<string, unknown>) => Promise<z.output<S>>;

export const changedWhileRead = (what: string) => new AoError('SCM_UNAVAILABLE', `${what} changed while it was being read from GitHub; a retry reads it afresh`);

export async function readRest(pr: PullRequest, ask: FollowUp, what: string): Promise<{ contexts: Context[]; threads: FullThread[] }> {
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
      if (!page) throw changedWhileRead(what);
      all.push(...page.nodes);
      pageInfo = page.pageInfo;
    }
    return all;
  };

  const rollup = pr.statusCheckRollup;
  const contexts: Context[] = rollup ? await drain(rollup.contexts, async (after) => (await ask(MoreContextsAnswer, MORE_CONTEXTS, { id: rollup.id, after })).node?.contexts) : [];
  const threads = await drain(pr.reviewThreads, async (after) => (await ask(MoreThreadsAnswer, MORE_THREADS, { id: pr.id, after })).node?.reviewThreads);
  // sequential on purpose: a long thread is rare, and requests are what GitHub meters
  const fullThreads: FullThread[] = [];
  for (const thread of threads) {
    const comments = await drain(thread.comments, async (after) => (await ask(MoreCommentsAnswer, MORE_COMMENTS, { id: thread.id, after })).node?.comments);
    fullThreads.push({ ...thread, comments });
  }
  return { contexts, threads: fullThreads };
}
