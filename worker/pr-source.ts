import type { PrSnapshot } from '../core/domain.js';
import type { AoError } from '../core/errors.js';

/**
 * The port the claim worker fetches PRs through (the GitHub GraphQL adapter implements it).
 * Failures are AoErrors: PR_NOT_FOUND, SCM_AUTH_FAILED, SCM_RATE_LIMITED (details.retryAt),
 * SCM_UNAVAILABLE (transient).
 */
export interface PrSource {
  fetchPullRequest(
    ref: { owner: string; repo: string; number: number },
    options?: { signal?: AbortSignal },
  ): Promise<{ snapshot: PrSnapshot; maintainerCanModify: boolean }>;
}

export interface PrRef {
  owner: string;
  repo: string;
  number: number;
}

/** One PR of a batch fetch: its snapshot, or the error that PR alone ended with (e.g. PR_NOT_FOUND). */
export type BatchFetched =
  | { ref: PrRef; ok: true; snapshot: PrSnapshot; maintainerCanModify: boolean }
  | { ref: PrRef; ok: false; error: AoError };

/**
 * The port batch re-claims fetch through: many PRs per GitHub request (GraphQL aliases). A failure
 * of the whole request throws (SCM_RATE_LIMITED with details.retryAt, or an error carrying `until`
 * when the shared budget holds batch work back; SCM_UNAVAILABLE; SCM_AUTH_FAILED).
 */
export interface PrBatchSource {
  fetchPullRequests(refs: PrRef[], options?: { signal?: AbortSignal; batchSize?: number }): Promise<{ items: BatchFetched[] }>;
}
