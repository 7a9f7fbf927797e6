import type { PrSnapshot } from '../core/domain.js';

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
