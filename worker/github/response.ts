import { z } from 'zod';

/** GitHub's answers, parsed at the boundary (nullable exactly where the schema says so). */

const PageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() });
const Actor = z.object({ __typename: z.string(), login: z.string() }).nullable();

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

const Comments = z.object({ pageInfo: PageInfo, nodes: z.array(Comment.nullable()) });

export const Thread = z.object({
  id: z.string(),
  isResolved: z.boolean(),
  path: z.string(),
  line: z.number().int().nullable(),
  comments: Comments,
});
export type Thread = z.infer<typeof Thread>;

const Contexts = z.object({ pageInfo: PageInfo, nodes: z.array(Context.nullable()) });
const Threads = z.object({ pageInfo: PageInfo, nodes: z.array(Thread.nullable()) });

export const RateLimit = z.object({ cost: z.number(), remaining: z.number(), resetAt: z.string() }).nullable();

export const PullRequest = z.object({
  id: z.string(),
  number: z.number().int(),
  url: z.string(),
  title: z.string(),
  state: z.enum(['OPEN', 'CLOSED', 'MERGED']),
  isDraft: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  mergedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  headRefName: z.string(),
  headRefOid: z.string(),
  baseRefName: z.string(),
  baseRefOid: z.string(),
  isCrossRepository: z.boolean(),
  headRepository: z.object({ nameWithOwner: z.string() }).nullable(),
  mergeable: z.string(),
  mergeStateStatus: z.string(),
  reviewDecision: z.string().nullable(),
  additions: z.number().int(),
  deletions: z.number().int(),
  changedFiles: z.number().int(),
  author: Actor,
  statusCheckRollup: z.object({ id: z.string(), state: z.string(), contexts: Contexts }).nullable(),
  reviewThreads: Threads,
});
export type PullRequest = z.infer<typeof PullRequest>;

export const PullRequestAnswer = z.object({
  rateLimit: RateLimit.optional(),
  repository: z.object({ pullRequest: PullRequest.nullable() }).nullable(),
});

export const MoreContextsAnswer = z.object({ rateLimit: RateLimit.optional(), node: z.object({ contexts: Contexts }).nullable() });
export const MoreThreadsAnswer = z.object({ rateLimit: RateLimit.optional(), node: z.object({ reviewThreads: Threads }).nullable() });
export const MoreCommentsAnswer = z.object({ rateLimit: RateLimit.optional(), node: z.object({ comments: Comments }).nullable() });
export const MergeabilityAnswer = z.object({
  rateLimit: RateLimit.optional(),
  node: z.object({ mergeable: z.string(), mergeStateStatus: z.string() }).nullable(),
});
