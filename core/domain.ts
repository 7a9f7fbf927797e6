import { z } from 'zod';

/**
 * The domain vocabulary (SPEC §2) as zod schemas: the single source for the database enums,
 * the HTTP schemas (§9) and the job payloads. Field names are the wire names (camelCase).
 */

export const SessionKind = z.enum(['worker', 'orchestrator']);
export const SessionState = z.enum(['provisional', 'active', 'idle', 'exited', 'terminated']);
export const PrState = z.enum(['draft', 'open', 'merged', 'closed']);
export const CiState = z.enum(['unknown', 'pending', 'passing', 'failing']);
export const ReviewDecision = z.enum(['none', 'approved', 'changes_requested', 'review_required']);
export const Mergeability = z.enum(['unknown', 'mergeable', 'conflicting', 'blocked', 'unstable']);
export const CheckStatus = z.enum(['unknown', 'queued', 'in_progress', 'passed', 'failed', 'skipped', 'cancelled']);
export const JobKind = z.enum(['claim', 'spawn_claim', 'reclaim_batch', 'reclaim_item']);
export const JobState = z.enum([
  'queued',
  'running',
  'succeeded',
  'failed',
  'compensating',
  'compensated',
  'compensation_failed',
  'cancelled',
]);
export const TERMINAL_JOB_STATES: ReadonlySet<z.infer<typeof JobState>> = new Set([
  'succeeded',
  'failed',
  'compensated',
  'compensation_failed',
  'cancelled',
]);

export type SessionKind = z.infer<typeof SessionKind>;
export type SessionState = z.infer<typeof SessionState>;
export type PrState = z.infer<typeof PrState>;
export type CiState = z.infer<typeof CiState>;
export type ReviewDecision = z.infer<typeof ReviewDecision>;
export type Mergeability = z.infer<typeof Mergeability>;
export type CheckStatus = z.infer<typeof CheckStatus>;
export type JobKind = z.infer<typeof JobKind>;
export type JobState = z.infer<typeof JobState>;

const IsoTime = z.string().describe('ISO 8601 UTC time');

export const ProjectId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit')
  .refine((s) => !s.includes('..'), 'must not contain ".."');

export const Project = z
  .object({
    id: z.string(),
    path: z.string(),
    repoUrl: z.string().describe('GitHub origin of the checkout; "" when unknown'),
    defaultBranch: z.string(),
    createdAt: IsoTime,
    archivedAt: IsoTime.nullable(),
  })
  .meta({ id: 'Project' });
export type Project = z.infer<typeof Project>;

export const Session = z
  .object({
    id: z.string(),
    projectId: z.string(),
    kind: SessionKind,
    state: SessionState,
    branch: z.string(),
    workspacePath: z.string(),
    host: z.string(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    leaseExpiresAt: IsoTime.nullable(),
  })
  .meta({ id: 'Session' });
export type Session = z.infer<typeof Session>;

export const Check = z
  .object({
    name: z.string(),
    sha: z.string(),
    status: CheckStatus,
    conclusion: z.string(),
    url: z.string(),
  })
  .meta({ id: 'Check' });
export type Check = z.infer<typeof Check>;

export const ReviewComment = z
  .object({
    id: z.string(),
    author: z.string(),
    body: z.string(),
    url: z.string(),
    isBot: z.boolean(),
    createdAt: IsoTime.nullable(),
  })
  .meta({ id: 'ReviewComment' });
export type ReviewComment = z.infer<typeof ReviewComment>;

export const ReviewThread = z
  .object({
    id: z.string(),
    path: z.string(),
    line: z.number().int().nullable(),
    isResolved: z.boolean(),
    isBot: z.boolean(),
    comments: z.array(ReviewComment),
  })
  .meta({ id: 'ReviewThread' });
export type ReviewThread = z.infer<typeof ReviewThread>;

/** The facts of one PR as read from GitHub in one observation. */
export const PrFacts = z.object({
  owner: z.string().min(1).describe("repository owner in GitHub's casing"),
  repo: z.string().min(1).describe("repository name in GitHub's casing"),
  number: z.number().int().positive(),
  title: z.string(),
  author: z.string(),
  state: PrState,
  ci: CiState,
  review: ReviewDecision,
  mergeability: Mergeability,
  isDraft: z.boolean(),
  headBranch: z.string(),
  headSha: z.string(),
  baseBranch: z.string(),
  baseSha: z.string(),
  headRepository: z.string().describe('owner/name of the head repository; "" when the fork was deleted'),
  isCrossRepository: z.boolean(),
  additions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
  changedFiles: z.number().int().nonnegative(),
  providerCreatedAt: IsoTime.nullable(),
  providerUpdatedAt: IsoTime.nullable(),
  mergedAt: IsoTime.nullable(),
  closedAt: IsoTime.nullable(),
});
export type PrFacts = z.infer<typeof PrFacts>;

/**
 * A full snapshot of a PR as the claim writes it: facts, every check context of the head commit,
 * and every review thread with its comments. `observedAt` is when the fetch started; the store
 * refuses a snapshot older than the one it holds.
 */
export const PrSnapshot = PrFacts.extend({
  observedAt: IsoTime,
  checks: z.array(Check),
  reviewThreads: z.array(ReviewThread),
});
export type PrSnapshot = z.infer<typeof PrSnapshot>;

export const PullRequest = PrFacts.extend({
  url: z.string().describe("canonical URL in GitHub's casing"),
  sessionId: z.string(),
  observedAt: IsoTime,
  checks: z.array(Check),
  reviewThreads: z.array(ReviewThread),
}).meta({ id: 'PullRequest' });
export type PullRequest = z.infer<typeof PullRequest>;

export const JobError = z
  .object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'JobError' });

/** §3.5: the result of a claim job. */
export const ClaimResult = z
  .object({
    sessionId: z.string(),
    prs: z.array(PullRequest),
    takenOverFrom: z.array(z.string()),
    donorWasTerminated: z.boolean(),
    branchChanged: z.boolean().describe("true only when the session's worktree really moved to the PR's branch"),
    branch: z.string().describe("the branch the session's worktree is on"),
    pushTarget: z
      .string()
      .nullable()
      .describe("where the branch pushes: `origin`, the fork (owner/name) when its maintainers may push, or null (read-only)"),
  })
  .meta({ id: 'ClaimResult' });
export type ClaimResult = z.infer<typeof ClaimResult>;

export const Job = z
  .object({
    id: z.string(),
    kind: JobKind,
    state: JobState,
    sessionId: z.string().nullable(),
    request: z.unknown().describe("what the job was asked to do: a claim's `{pr, allowTakeover}`, a re-claim's `{selector, includeClosed}`"),
    // z.unknown() already admits null; `.nullable()` would add an empty `anyOf` branch to the OpenAPI document
    result: z
      .unknown()
      .describe(
        "what the job produced (null until it has a result): a claim's is `{sessionId, prs: PullRequest[], takenOverFrom, donorWasTerminated, branchChanged, branch, pushTarget}`, a batch item's `{pr, outcome}`, a batch's `{counts}`",
      ),
    error: JobError.nullable(),
    attempts: z.number().int(),
    progress: z.object({ done: z.number().int(), total: z.number().int() }).nullable(),
    step: z.string().nullable().describe('what the job is doing now, e.g. "fetching PR from GitHub"'),
    parentId: z.string().nullable(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    finishedAt: IsoTime.nullable(),
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof Job>;

/**
 * What a claim job stores as its result: fixed-size, whatever the session owns. The API answers
 * with ClaimResult, assembling `prs` when the job is read (ao.job_answer_json).
 */
export const StoredClaimResult = ClaimResult.omit({ prs: true }).extend({
  pr: z.string().describe("the claimed PR's URL"),
});
export type StoredClaimResult = z.infer<typeof StoredClaimResult>;

/** What a claim job was asked to do (the job's `request`), resolved by the API before enqueueing. */
export const ClaimRequest = z.object({
  pr: z.object({
    owner: z.string().min(1),
    repo: z.string().min(1),
    number: z.number().int().positive(),
    url: z.string(),
  }),
  allowTakeover: z.boolean(),
});
export type ClaimRequest = z.infer<typeof ClaimRequest>;

/**
 * Which PRs a batch re-claim covers (SPEC §6, §9): exactly one selector. `live` is the scheduled
 * refresh's own (every PR whose owner is not terminated); the API offers the other five.
 */
export const ReclaimSelector = z.union([
  z.object({ prs: z.array(z.string()).min(1).describe('canonical PR URLs, lower-cased') }),
  z.object({ sessionId: z.string() }),
  z.object({ projectId: z.string() }),
  z.object({ orphaned: z.literal(true) }),
  z.object({ all: z.literal(true) }),
  z.object({ live: z.literal(true) }),
]);
export type ReclaimSelector = z.infer<typeof ReclaimSelector>;

/** What a reclaim_batch job was asked to do (its `request`). */
export const ReclaimRequest = z.object({ selector: ReclaimSelector, includeClosed: z.boolean() });
export type ReclaimRequest = z.infer<typeof ReclaimRequest>;

/** A batch item's outcome (SPEC §6). */
export const ReclaimOutcome = z.string().regex(/^(refreshed|unchanged|skipped:[a-z-]+|failed:[A-Z_]+)$/);
