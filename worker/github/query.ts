/**
 * The GraphQL documents of a claim (validated against `@octokit/graphql-schema`, no deprecated
 * fields). PULL_REQUEST fetches everything in one request: facts, the head commit's check rollup
 * (first 100 contexts), the first 100 review threads with their first 100 comments each, and
 * the rate limit. That costs 1 point (1 + 1 + 100 connection requests / 100) and at most ~10,200
 * nodes, far below GitHub's 500,000.
 *
 * The follow-ups run only for a connection that overflows its first page, one `node(id:)` query
 * per page, and MERGEABILITY only when GitHub has not computed mergeability yet. Every value
 * from outside is a variable; nothing is interpolated into a document.
 */

/** The page size of every connection: GitHub's maximum. */
export const PAGE_SIZE = 100;

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

const THREAD = `
fragment Thread on PullRequestReviewThread {
  id isResolved path line
  comments(first: ${PAGE_SIZE}) { pageInfo { hasNextPage endCursor } nodes { ...Comment } }
}`;

const RATE_LIMIT = 'rateLimit { cost limit remaining used resetAt }';

export const PULL_REQUEST = `
query ClaimPullRequest($owner: String!, $name: String!, $number: Int!) {
  ${RATE_LIMIT}
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id number url title state isDraft merged closed createdAt updatedAt mergedAt closedAt
      headRefName headRefOid baseRefName baseRefOid isCrossRepository maintainerCanModify
      headRepository { nameWithOwner }
      mergeable mergeStateStatus reviewDecision additions deletions changedFiles
      author { __typename login }
      statusCheckRollup {
        id state
        commit { oid }
        contexts(first: ${PAGE_SIZE}) { totalCount pageInfo { hasNextPage endCursor } nodes { ...Context } }
      }
      reviewThreads(first: ${PAGE_SIZE}) { totalCount pageInfo { hasNextPage endCursor } nodes { ...Thread } }
    }
  }
}
${CONTEXT}
${THREAD}
${COMMENT}`;

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
