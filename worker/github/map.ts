import type { Check, CheckStatus, CiState, Mergeability, PrSnapshot, PrState, ReviewDecision, ReviewThread } from '../../core/domain.js';
import type { Comment, Context, PullRequest, Thread } from './response.js';

/** Pure mapping from GitHub's vocabulary to ao's (seed §2.5–2.6, with its gaps fixed). */

export function prState(pr: Pick<PullRequest, 'state' | 'isDraft'>): PrState {
  if (pr.state === 'MERGED') return 'merged';
  if (pr.state === 'CLOSED') return 'closed';
  return pr.isDraft ? 'draft' : 'open';
}

export function ciState(rollupState: string | null | undefined): CiState {
  switch (rollupState) {
    case 'SUCCESS':
      return 'passing';
    case 'FAILURE':
    case 'ERROR':
      return 'failing';
    case 'PENDING':
    case 'EXPECTED':
      return 'pending';
    default:
      return 'unknown';
  }
}

export function reviewDecision(decision: string | null): ReviewDecision {
  switch (decision) {
    case 'APPROVED':
      return 'approved';
    case 'CHANGES_REQUESTED':
      return 'changes_requested';
    case 'REVIEW_REQUIRED':
      return 'review_required';
    default:
      return 'none';
  }
}

const CONCLUSION_STATUS: Record<string, CheckStatus> = {
  SUCCESS: 'passed',
  NEUTRAL: 'passed',
  FAILURE: 'failed',
  TIMED_OUT: 'failed',
  ACTION_REQUIRED: 'failed',
  STARTUP_FAILURE: 'failed',
  CANCELLED: 'cancelled',
  SKIPPED: 'skipped',
  STALE: 'skipped',
};
const RUN_STATUS: Record<string, CheckStatus> = {
  QUEUED: 'queued',
  PENDING: 'queued',
  REQUESTED: 'queued',
  WAITING: 'queued',
  IN_PROGRESS: 'in_progress',
};
const CONTEXT_STATUS: Record<string, CheckStatus> = {
  SUCCESS: 'passed',
  FAILURE: 'failed',
  ERROR: 'failed',
  PENDING: 'in_progress',
  EXPECTED: 'in_progress',
};

/** One check per context of the head commit; a name seen twice keeps the last one. */
export function checks(contexts: readonly Context[], headSha: string): Check[] {
  const byName = new Map<string, Check>();
  for (const c of contexts) {
    const check: Check =
      c.__typename === 'CheckRun'
        ? {
            name: c.name,
            sha: headSha,
            status: (c.conclusion && CONCLUSION_STATUS[c.conclusion]) || RUN_STATUS[c.status] || 'unknown',
            conclusion: (c.conclusion ?? '').toLowerCase(),
            url: c.detailsUrl ?? '',
          }
        : {
            name: c.context,
            sha: headSha,
            status: CONTEXT_STATUS[c.state] ?? 'unknown',
            conclusion: c.state.toLowerCase(),
            url: c.targetUrl ?? '',
          };
    if (check.name === '') continue;
    byName.delete(check.name);
    byName.set(check.name, check);
  }
  return [...byName.values()];
}

/**
 * The mergeability verdict (seed §2.5): conflicts first; then anything that blocks a merge
 * (GitHub's BLOCKED, a draft, failing CI, a review that is not approving); then UNSTABLE; then
 * mergeable only when GitHub says so and nothing above applies.
 */
export function mergeability(input: {
  mergeable: string;
  mergeStateStatus: string;
  ci: CiState;
  review: ReviewDecision;
  isDraft: boolean;
}): Mergeability {
  const m = input.mergeable.toUpperCase();
  const s = input.mergeStateStatus.toUpperCase();
  if (s === 'DIRTY' || m === 'CONFLICTING') return 'conflicting';
  if (s === 'BLOCKED' || input.isDraft || input.ci === 'failing') return 'blocked';
  if (input.review === 'changes_requested' || input.review === 'review_required') return 'blocked';
  if (s === 'UNSTABLE') return 'unstable';
  if (m === 'MERGEABLE' && (s === 'CLEAN' || s === 'HAS_HOOKS' || s === '')) return 'mergeable';
  return 'unknown';
}

const isBot = (author: Comment['author']) => author?.__typename === 'Bot';

export function reviewThreads(threads: ReadonlyArray<Thread & { allComments: readonly Comment[] }>): ReviewThread[] {
  return threads.map((t) => ({
    id: t.id,
    path: t.path,
    line: t.line,
    isResolved: t.isResolved,
    // a thread is a bot's when it has comments and every one of them is a bot's
    isBot: t.allComments.length > 0 && t.allComments.every((c) => isBot(c.author)),
    comments: t.allComments.map((c) => ({
      id: c.id,
      author: c.author?.login ?? 'ghost',
      body: c.body,
      url: c.url,
      isBot: isBot(c.author),
      createdAt: c.createdAt,
    })),
  }));
}

/** owner and repo in GitHub's casing, from the PR's canonical URL */
export function ownerAndRepo(url: string): { owner: string; repo: string } {
  const match = /^https?:\/\/[^/]+\/([^/]+)\/([^/]+)\/pull\/\d+/.exec(url);
  if (!match) throw new Error(`unexpected pull request URL ${url}`);
  return { owner: match[1] as string, repo: match[2] as string };
}

export function toSnapshot(
  pr: PullRequest,
  contexts: readonly Context[],
  threads: ReadonlyArray<Thread & { allComments: readonly Comment[] }>,
  observedAt: string,
): PrSnapshot {
  const ci = ciState(pr.statusCheckRollup?.state);
  const review = reviewDecision(pr.reviewDecision);
  return {
    ...ownerAndRepo(pr.url),
    number: pr.number,
    title: pr.title,
    author: pr.author?.login ?? 'ghost',
    state: prState(pr),
    ci,
    review,
    mergeability: mergeability({ mergeable: pr.mergeable, mergeStateStatus: pr.mergeStateStatus, ci, review, isDraft: pr.isDraft }),
    isDraft: pr.isDraft,
    headBranch: pr.headRefName,
    headSha: pr.headRefOid,
    baseBranch: pr.baseRefName,
    baseSha: pr.baseRefOid,
    headRepository: pr.headRepository?.nameWithOwner ?? '',
    isCrossRepository: pr.isCrossRepository,
    additions: pr.additions,
    deletions: pr.deletions,
    changedFiles: pr.changedFiles,
    providerCreatedAt: pr.createdAt,
    providerUpdatedAt: pr.updatedAt,
    mergedAt: pr.mergedAt,
    closedAt: pr.closedAt,
    observedAt,
    checks: checks(contexts, pr.headRefOid),
    reviewThreads: reviewThreads(threads),
  };
}
