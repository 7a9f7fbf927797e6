import { z } from 'zod';
import { AoError } from '../../core/errors.js';
import type { BatchFetched, PrRef as PullRequestRef } from '../pr-source.js';
import { classifyGitHubError, classifyGraphqlErrors, type GraphqlError } from './errors.js';
import { toSnapshot } from './map.js';
import { readRest } from './pages.js';
import { batchAlias, FOLLOW_UP_COST, pullRequestsCost, pullRequestsDocument, pullRequestsVariables } from './query.js';
import { createRequester, type Requester, type Transport } from './request.js';
import { PullRequest } from './response.js';

/**
 * Batch re-claim's GitHub side (SPEC §6): many PRs per GraphQL request, one alias each, with
 * only the overflowing connections of a PR paged afterwards (for that PR alone). One PR's trouble
 * is its own item's failure; a request GitHub refuses as a whole rejects the call.
 *
 * A mergeability GitHub has not computed yet (UNKNOWN) is left unknown here: a re-read costs a
 * request and a wait per PR, and the next refresh reads it anyway, computed by then.
 */

export const DEFAULT_BATCH_SIZE = 20;
/** requests of one call in flight at once (the budget's slots bound them over all processes) */
const DEFAULT_CONCURRENCY = 4;

export interface BatchFetchOptions {
  /** aliases per request (AO_GITHUB_BATCH_SIZE) */
  batchSize?: number;
  /** this call's requests at once */
  concurrency?: number;
  signal?: AbortSignal;
  /** called when a request waits for one of the token's in-flight slots (the job can say so) */
  onSlotWait?: () => void;
}

export type BatchItem = BatchFetched;

export interface BatchResult {
  /** in the order of `refs` */
  items: BatchItem[];
  /** GraphQL requests made: one per batch, plus one per overflowing page */
  requests: number;
  /** points spent (summed), and the window after the latest answer */
  rateLimit: { cost: number; remaining: number; limit: number; resetAt: string } | null;
}

const whatOf = (ref: PullRequestRef) => `${ref.owner}/${ref.repo}#${ref.number}`;
const notFound = (ref: PullRequestRef) =>
  new AoError('PR_NOT_FOUND', `${whatOf(ref)} was not found on GitHub (or the token cannot see its repository)`, { ref: whatOf(ref) });

const Alias = z.object({ pullRequest: PullRequest.nullable() }).nullable().optional();

/**
 * Follow-up failures that are not this PR's alone end the whole call: the budget says wait, the
 * token is refused, the caller aborted. Any other (a 5xx on one page, the PR changed between
 * pages) fails just this PR, whose next attempt reads it afresh.
 */
function sharedFailure(err: unknown, signal: AbortSignal): boolean {
  return !(err instanceof AoError) || err.code === 'SCM_RATE_LIMITED' || err.code === 'SCM_AUTH_FAILED' || signal.aborted;
}

async function fetchChunk(requester: Requester, refs: readonly PullRequestRef[], signal: AbortSignal): Promise<BatchItem[]> {
  const observedAt = new Date().toISOString(); // when the read started: see PrSnapshot
  const what = refs.length === 1 ? whatOf(refs[0] as PullRequestRef) : `${refs.length} PRs (${refs.map(whatOf).join(', ')})`;
  const aliases = new Map(refs.map((ref, i) => [batchAlias(i), ref]));
  const { data, itemErrors } = await requester.askPartial(pullRequestsDocument(refs.length), pullRequestsVariables(refs), {
    what,
    cost: pullRequestsCost(refs.length),
    // an error under an alias is that PR's; one without (a rate limit, a bad query) is everyone's
    isItemError: (error) => aliases.has(String(error.path?.[0])) && error.type !== 'RATE_LIMITED',
  });
  const errorsOf = new Map<string, GraphqlError[]>();
  for (const error of itemErrors) {
    const alias = String(error.path?.[0]);
    errorsOf.set(alias, [...(errorsOf.get(alias) ?? []), error]);
  }

  const items: BatchItem[] = [];
  for (const [alias, ref] of aliases) {
    const errors = errorsOf.get(alias);
    if (errors) {
      items.push({ ref, ok: false, error: classifyGraphqlErrors(errors, undefined, whatOf(ref)) });
      continue;
    }
    const parsed = Alias.safeParse(data[alias]);
    if (!parsed.success) {
      items.push({ ref, ok: false, error: classifyGitHubError(parsed.error, whatOf(ref)) });
      continue;
    }
    const pr = parsed.data?.pullRequest;
    if (!pr) {
      items.push({ ref, ok: false, error: notFound(ref) });
      continue;
    }
    try {
      const meta = { what: whatOf(ref), cost: FOLLOW_UP_COST };
      const { contexts, threads } = await readRest(pr, (schema, query, variables) => requester.ask(schema, query, variables, meta), whatOf(ref));
      items.push({ ref, ok: true, snapshot: toSnapshot({ pr, contexts, threads, observedAt, ref }), maintainerCanModify: pr.maintainerCanModify });
    } catch (err) {
      if (sharedFailure(err, signal)) throw err;
      items.push({ ref, ok: false, error: err as AoError });
    }
  }
  return items;
}

export async function fetchBatch(transport: Transport, token: string, refs: readonly PullRequestRef[], options: BatchFetchOptions): Promise<BatchResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize must be a positive integer, not ${batchSize}`);
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, not ${concurrency}`);

  // the first failure of a whole request stops the other chunks: the call rejects with it
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const requester = createRequester(transport, { token, kind: 'batch', signal, ...(options.onSlotWait ? { onSlotWait: options.onSlotWait } : {}) });

  const chunks: Array<readonly PullRequestRef[]> = [];
  for (let i = 0; i < refs.length; i += batchSize) chunks.push(refs.slice(i, i + batchSize));
  const results: BatchItem[][] = new Array<BatchItem[]>(chunks.length);
  let next = 0;
  const failures: unknown[] = [];
  const lane = async () => {
    for (let chunk = chunks[next]; failures.length === 0 && chunk; chunk = chunks[next]) {
      const index = next++;
      try {
        results[index] = await fetchChunk(requester, chunk, signal);
      } catch (error) {
        failures.push(error);
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, lane));
  if (failures.length > 0) throw failures[0];
  return { items: results.flat(), requests: requester.requests, rateLimit: requester.rateLimit };
}
