import type { Check, CheckStatus, CiState, Mergeability, PrSnapshot, PrState, ReviewDecision, ReviewThread } from '../../core/domain.js';
import type { Actor, Comment, Context, PullRequest, Thread } from './response.js';

/**
 * Pure mapping from GitHub's vocabulary to ao's (seed §2.5–2.6), with the seed's gaps fixed:
 * comments keep GitHub's createdAt (G12), drafts are a state of their own (G10), and every
 * context and thread is mapped, not just the first page.
 */

/** A review thread with every one of its comments (all pages joined). */
export type FullThread = Omit<Thread, 'comments'> & { comments: readonly Comment[] };

/** merged > closed > draft > open (a closed draft is closed; `merged`/`closed` back up `state`) */
export function prState(pr: Pick<PullRequest, 'state' | 'isDraft'> & Partial<Pick<PullRequest, 'merged' | 'closed'>>): PrState {
  if (pr.state === 'MERGED' || pr.merged === true) return 'merged';
  if (pr.state === 'CLOSED' || pr.closed === true) return 'closed';
  return pr.isDraft ? 'draft' : 'open';
}

/** GitHub's DateTime as ao writes times (ISO 8601 with milliseconds, UTC); an unreadable value → null. */
export function isoTime(value: string | null): string | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** The rollup's state; no rollup (no checks at all) and values we do not know → unknown. */
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

/** null means no review policy applies: none. */
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

// Maps rather than switches: `undefined` for a value GitHub adds later falls through to the next rule.
const CONCLUSION_STATUS: Partial<Record<string, CheckStatus>> = {
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
const RUN_STATUS: Partial<Record<string, CheckStatus>> = {
  QUEUED: 'queued',
  PENDING: 'queued',
  REQUESTED: 'queued',
  WAITING: 'queued',
  IN_PROGRESS: 'in_progress',
};
const CONTEXT_STATUS: Partial<Record<string, CheckStatus>> = {
  SUCCESS: 'passed',
  FAILURE: 'failed',
  ERROR: 'failed',
  PENDING: 'in_progress',
  EXPECTED: 'in_progress',
};

export function check(context: Context, sha: string): Check {
  if (context.__typename === 'CheckRun') {
    // a deciding conclusion wins; without one (still running) the run's status tells how far it is
    const byConclusion = context.conclusion === null ? undefined : CONCLUSION_STATUS[context.conclusion];
    return {
      name: context.name,
      sha,
      status: byConclusion ?? RUN_STATUS[context.status] ?? 'unknown',
      conclusion: (context.conclusion ?? '').toLowerCase(),
      url: context.detailsUrl ?? '',
    };
  }
  return {
    name: context.context,
    sha,
    status: CONTEXT_STATUS[context.state] ?? 'unknown',
    conclusion: context.state.toLowerCase(),
    url: context.targetUrl ?? '',
  };
}

/**
 * One check per context of the head commit. The store keys checks by (name, sha), so two
 * contexts of one name (a re-run, or a check run and a status with the same name) collapse into
 * one: the last one wins, in the position of the last. Nameless contexts are dropped.
 */
export function checks(contexts: readonly Context[], sha: string): Check[] {
  const byName = new Map<string, Check>();
  for (const context of contexts) {
    const mapped = check(context, sha);
    if (mapped.name === '') continue;
    byName.delete(mapped.name);
    byName.set(mapped.name, mapped);
  }
  return [...byName.values()];
}

/**
 * The mergeability verdict, seed §2.5 steps 1–10. M = mergeable, S = mergeStateStatus.
 *  1. S=DIRTY or M=CONFLICTING → conflicting.
 *  2. S=BEHIND: noted by the seed, changes nothing (it ends as unknown in step 10).
 *  3–7. S=BLOCKED, a draft, failing CI, or a review asking for changes/approval → blocked.
 *  8. S=UNSTABLE → unstable.
 *  9. M=MERGEABLE, S ∈ {CLEAN, HAS_HOOKS, ''} (and nothing above) → mergeable.
 * 10. anything else (UNKNOWN while GitHub computes it, BEHIND) → unknown.
 */
export function mergeability(input: { mergeable: string; mergeStateStatus: string; ci: CiState; review: ReviewDecision; isDraft: boolean }): Mergeability {
  const m = input.mergeable.toUpperCase();
  const s = input.mergeStateStatus.toUpperCase();
  if (s === 'DIRTY' || m === 'CONFLICTING') return 'conflicting';
  if (s === 'BLOCKED' || input.isDraft || input.ci === 'failing') return 'blocked';
  if (input.review === 'changes_requested' || input.review === 'review_required') return 'blocked';
  if (s === 'UNSTABLE') return 'unstable';
  if (m === 'MERGEABLE' && (s === 'CLEAN' || s === 'HAS_HOOKS' || s === '')) return 'mergeable';
  return 'unknown';
}

/** GitHub Apps are `Bot` actors; their GraphQL logins carry no `[bot]` suffix, so the login cannot tell. */
export const isBot = (author: Actor): boolean => author?.__typename === 'Bot';

/** A deleted account is `null` on GitHub and shown as "ghost" on github.com. */
export const login = (author: Actor): string => author?.login ?? 'ghost';

export function reviewThreads(threads: readonly FullThread[]): ReviewThread[] {
  return threads.map((t) => ({
    id: t.id,
    path: t.path,
    line: t.line,
    isResolved: t.isResolved,
    // a bot's thread: at least one comment, all by bots (an empty thread is nobody's)
    isBot: t.comments.length > 0 && t.comments.every((c) => isBot(c.author)),
    comments: t.comments.map((c) => ({
      id: c.id,
      author: login(c.author),
      body: c.body,
      url: c.url,
      isBot: isBot(c.author),
      createdAt: isoTime(c.createdAt),
    })),
  }));
}

/** owner and repo in GitHub's casing, from the PR's canonical URL (also GitHub Enterprise URLs). */
export function ownerAndRepo(url: string): { owner: string; repo: string } | null {
  const match = /^https?:\/\/[^/]+\/([^/]+)\/([^/]+)\/pull\/\d+\/?$/.exec(url);
  return match?.[1] && match[2] ? { owner: match[1], repo: match[2] } : null;
}

export interface SnapshotInput {
  pr: PullRequest;
  /** every context of the rollup, all pages joined */
  contexts: readonly Context[];
  /** every thread, all pages joined, each with all of its comments */
  threads: readonly FullThread[];
  /** when the fetch started: the store refuses a snapshot older than the one it holds */
  observedAt: string;
  /** the ref as asked, used only if GitHub's URL cannot be read */
  ref: { owner: string; repo: string };
}

export function toSnapshot({ pr, contexts, threads, observedAt, ref }: SnapshotInput): PrSnapshot {
  const ci = ciState(pr.statusCheckRollup?.state);
  const review = reviewDecision(pr.reviewDecision);
  const names = ownerAndRepo(pr.url) ?? { owner: ref.owner, repo: ref.repo };
  // the commit the contexts are attached to; it is the head commit, read in the same answer
  const checkSha = pr.statusCheckRollup?.commit?.oid ?? pr.headRefOid;
  return {
    owner: names.owner,
    repo: names.repo,
    number: pr.number,
    title: pr.title,
    author: login(pr.author),
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
    providerCreatedAt: isoTime(pr.createdAt),
    providerUpdatedAt: isoTime(pr.updatedAt),
    mergedAt: isoTime(pr.mergedAt),
    closedAt: isoTime(pr.closedAt),
    observedAt,
    checks: checks(contexts, checkSha),
    reviewThreads: reviewThreads(threads),
  };
}
