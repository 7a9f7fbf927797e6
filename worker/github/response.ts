import { z } from 'zod';

/**
 * GitHub's answers, parsed at the boundary: nullable exactly where the schema says so. Enums
 * GitHub may extend (check states, mergeability, review decision) are plain strings here; the
 * mapping turns values it does not know into `unknown`/`none` instead of failing the claim.
 */

const PageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() });
export type PageInfo = z.infer<typeof PageInfo>;

/** `Actor` is nullable: a deleted account ("ghost"). */
const Actor = z.object({ __typename: z.string(), login: z.string() }).nullable();
export type Actor = z.infer<typeof Actor>;

/** A connection's `nodes` is `[T]` in GitHub's schema: both the list and its items may be null. */
const nodes = <T extends z.ZodType>(item: T) =>
  z
    .array(item.nullable())
    .nullable()
    .transform((list) => (list ?? []).filter((x): x is NonNullable<typeof x> => x !== null));

export const Context = z.discriminatedUnion('__typename', [
  z.object({
    __typename: z.literal('CheckRun'),
    name: z.string(),
    status: z.string(),
    conclusion: z.string().nullable(),
    detailsUrl: z.string().nullable(),
  }),
  z.object({
    __typename: z.literal('StatusContext'),
    context: z.string(),
    state: z.string(),
    targetUrl: z.string().nullable(),
  }),
]);
export type Context = z.infer<typeof Context>;

export const Comment = z.object({
  id: z.string(),
  url: z.string(),
  body: z.string(),
  createdAt: z.string(),
  author: Actor,
});
export type Comment = z.infer<typeof Comment>;

const Comments = z.object({ pageInfo: PageInfo, nodes: nodes(Comment) });

export const Thread = z.object({
  id: z.string(),
  isResolved: z.boolean(),
  path: z.string(),
  line: z.number().int().nullable(),
  comments: Comments,
});
export type Thread = z.infer<typeof Thread>;

const Contexts = z.object({ pageInfo: PageInfo, nodes: nodes(Context) });
const Threads = z.object({ pageInfo: PageInfo, nodes: nodes(Thread) });

export const RateLimit = z.object({
  cost: z.number(),
  limit: z.number(),
  remaining: z.number(),
  used: z.number(),
  resetAt: z.string(),
});
export type RateLimit = z.infer<typeof RateLimit>;

export const PullRequest = z.object({
  id: z.string(),
  number: z.number().int(),
  url: z.string(),
  title: z.string(),
  state: z.enum(['OPEN', 'CLOSED', 'MERGED']),
  isDraft: z.boolean(),
  merged: z.boolean(),
  closed: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  mergedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  headRefName: z.string(),
  headRefOid: z.string(),
  baseRefName: z.string(),
  baseRefOid: z.string(),
  isCrossRepository: z.boolean(),
  maintainerCanModify: z.boolean(),
  headRepository: z.object({ nameWithOwner: z.string() }).nullable(),
  mergeable: z.string(),
  mergeStateStatus: z.string(),
  reviewDecision: z.string().nullable(),
  additions: z.number().int(),
  deletions: z.number().int(),
  changedFiles: z.number().int(),
  author: Actor,
  statusCheckRollup: z
    .object({
      id: z.string(),
      state: z.string(),
      commit: z.object({ oid: z.string() }).nullable(),
      contexts: Contexts.extend({ totalCount: z.number().int() }),
    })
    .nullable(),
  reviewThreads: Threads.extend({ totalCount: z.number().int() }),
});
export type PullRequest = z.infer<typeof PullRequest>;

const withRateLimit = <S extends z.ZodRawShape>(shape: S) => z.object({ rateLimit: RateLimit.nullable().optional(), ...shape });

export const PullRequestAnswer = withRateLimit({
  repository: z.object({ pullRequest: PullRequest.nullable() }).nullable(),
});
// `node` is null, or an empty object when the id now names something else
export const MoreContextsAnswer = withRateLimit({ node: z.object({ contexts: Contexts.optional() }).nullable() });
export const MoreThreadsAnswer = withRateLimit({ node: z.object({ reviewThreads: Threads.optional() }).nullable() });
export const MoreCommentsAnswer = withRateLimit({ node: z.object({ comments: Comments.optional() }).nullable() });
export const MergeabilityAnswer = withRateLimit({
  node: z.object({ mergeable: z.string().optional(), mergeStateStatus: z.string().optional() }).nullable(),
});
