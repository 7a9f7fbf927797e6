/**
 * The GraphQL documents of a claim (validated against `@octokit/graphql-schema`, no deprecated
 * fields). PULL_REQUEST fetches everything in one request: facts, the head commit's check rollup
 * (first 100 contexts), the first 100 review threads with their first 100 comments each, and
 * the rate limit. That costs 1 point (1 + 1 + 100 connection requests / 100) and at most ~10,200
 * nodes, far below GitHub's 500,000.
 *
 * pullRequestsDocument(n) reads n PRs in one request (aliases `pr0`…), with smaller pages: see
 * BATCH_PAGES. The follow-ups run only for a connection that overflows its first page, one
 * `node(id:)` query per page, and MERGEABILITY only when GitHub has not computed mergeability
 * yet. Every value from outside is a variable; nothing is interpolated into a document (the
 * batch document is built from a count alone).
 */

/** The page size of every connection of a single claim and of the follow-ups: GitHub's maximum. */
export const PAGE_SIZE = 100;

interface Pages {
  contexts: number;
  threads: number;
  comments: number;
}

/**
 * GitHub charges one request per connection per parent, so a PR costs 1 (contexts) + 1 (threads)
 * + `threads` (the comments of each thread); the page sizes of leaf connections (contexts, comments)
 * change the node count, never the points. 20 PRs of this shape:
 *   points: 20 × (1 + 1 + 20) = 440 requests / 100 → 4 points (0.2 per PR; at 100 threads, 20.4 → 20)
 *   nodes:  20 × (50 + 20 + 20 × 20) = 9,400 of the 500,000 allowed
 * The leaf pages are small anyway because a batch's real limit is GitHub's 10 s answer time (and a
 * timed-out request is still charged): the worst case is 8,000 comments and 1,000 contexts per
 * answer. Few PRs exceed 20 threads, 20 comments on a thread or 50 checks; one that does costs
 * its own follow-up pages (of 100, 1 point each), and only it.
 */
export const BATCH_PAGES: Pages = { contexts: 50, threads: 20, comments: 20 };
const SINGLE_PAGES: Pages = { contexts: PAGE_SIZE, threads: PAGE_SIZE, comments: PAGE_SIZE };

/** What GitHub will charge for pullRequestsDocument(count), by its published formula (minimum 1). */
export function pullRequestsCost(count: number, pages: Pages = BATCH_PAGES): number {
  return Math.max(1, Math.round((count * (2 + pages.threads)) / 100));
}

/** Follow-up pages and the mergeability re-read all cost GitHub's minimum. */
export const FOLLOW_UP_COST = 1;

const CONTEXT = `
fragment Context on StatusCheckRollupContext {
  __typename
  ... on CheckRun { name status conclusion detailsUrl }
  ... on StatusContext { context state targetUrl }
}`;

const COMMENT = `
fragment Comment on PullRequestReviewComment {
  id url body createdAt
  author { __typename login }
}`;

const threadFragment = (comments: number) => `
fragment Thread on PullRequestReviewThread {
  id isResolved path line
  comments(first: ${comments}) { pageInfo { hasNextPage endCursor } nodes { ...Comment } }
}`;

const THREAD = threadFragment(PAGE_SIZE);

const pullRequestFields = (pages: Pages) => `
fragment PullRequestFields on PullRequest {
  id number url title state isDraft merged closed createdAt updatedAt mergedAt closedAt
  headRefName headRefOid baseRefName baseRefOid isCrossRepository maintainerCanModify
  headRepository { nameWithOwner }
  mergeable mergeStateStatus reviewDecision additions deletions changedFiles
  author { __typename login }
  statusCheckRollup {
    id state
    commit { oid }
    contexts(first: ${pages.contexts}) { totalCount pageInfo { hasNextPage endCursor } nodes { ...Context } }
  }
  reviewThreads(first: ${pages.threads}) { totalCount pageInfo { hasNextPage endCursor } nodes { ...Thread } }
}
${CONTEXT}
${threadFragment(pages.comments)}
${COMMENT}`;

const RATE_LIMIT = 'rateLimit { cost limit remaining used resetAt }';

export const PULL_REQUEST = `
query ClaimPullRequest($owner: String!, $name: String!, $number: Int!) {
  ${RATE_LIMIT}
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) { ...PullRequestFields }
  }
}
${pullRequestFields(SINGLE_PAGES)}`;

/** The alias of the i-th PR of a batch; errors name it as `path[0]`. */
export const batchAlias = (i: number) => `pr${i}`;

/** The variables of pullRequestsDocument(refs.length), matching its `$o<i>`, `$n<i>`, `$p<i>`. */
export function pullRequestsVariables(refs: ReadonlyArray<{ owner: string; repo: string; number: number }>): Record<string, string | number> {
  const variables: Record<string, string | number> = {};
  refs.forEach((ref, i) => {
    variables[`o${i}`] = ref.owner;
    variables[`n${i}`] = ref.repo;
    variables[`p${i}`] = ref.number;
  });
  return variables;
}

const batchDocuments = new Map<number, string>();

/** The batch document for `count` PRs; it depends on nothing but the count (and is cached by it). */
export function pullRequestsDocument(count: number): string {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`a batch reads at least one PR, not ${count}`);
  let document = batchDocuments.get(count);
  if (document === undefined) {
    const indexes = Array.from({ length: count }, (_, i) => i);
    const declared = indexes.map((i) => `$o${i}: String!, $n${i}: String!, $p${i}: Int!`).join(', ');
    const selected = indexes
      .map((i) => `  ${batchAlias(i)}: repository(owner: $o${i}, name: $n${i}) { pullRequest(number: $p${i}) { ...PullRequestFields } }`)
      .join('\n');
    document = `
query ReclaimPullRequests(${declared}) {
  ${RATE_LIMIT}
${selected}
}
${pullRequestFields(BATCH_PAGES)}`;
    batchDocuments.set(count, document);
  }
  return document;
}

/**
 * More contexts of the same rollup. Addressed by the rollup's own id (StatusCheckRollup is a
 * Node), so a push between two pages cannot splice another commit's checks into the list.
 */
export const MORE_CONTEXTS = `
query MoreContexts($id: ID!, $after: String!) {
  ${RATE_LIMIT}
  node(id: $id) {
    ... on StatusCheckRollup {
      contexts(first: ${PAGE_SIZE}, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Context } }
    }
  }
}
${CONTEXT}`;

export const MORE_THREADS = `
query MoreThreads($id: ID!, $after: String!) {
  ${RATE_LIMIT}
  node(id: $id) {
    ... on PullRequest {
      reviewThreads(first: ${PAGE_SIZE}, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Thread } }
    }
  }
}
${THREAD}
${COMMENT}`;

export const MORE_COMMENTS = `
query MoreComments($id: ID!, $after: String!) {
  ${RATE_LIMIT}
  node(id: $id) {
    ... on PullRequestReviewThread {
      comments(first: ${PAGE_SIZE}, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Comment } }
    }
  }
}
${COMMENT}`;

/** Only the two lazily computed facts: the re-read after GitHub answered UNKNOWN. */
export const MERGEABILITY = `
query Mergeability($id: ID!) {
  ${RATE_LIMIT}
  node(id: $id) { ... on PullRequest { mergeable mergeStateStatus } }
}`;
