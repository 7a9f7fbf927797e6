/**
 * The GraphQL documents of a claim. One request fetches everything in the common case; the
 * follow-ups run only for a connection that overflows its first page (via `node(id:)`), and
 * MERGEABILITY only when GitHub has not computed mergeability yet. No deprecated fields.
 */

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
  comments(first: 100) { pageInfo { hasNextPage endCursor } nodes { ...Comment } }
}`;

const RATE_LIMIT = 'rateLimit { cost remaining resetAt }';

export const PULL_REQUEST = `
query ClaimPullRequest($owner: String!, $name: String!, $number: Int!) {
  ${RATE_LIMIT}
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id number url title state isDraft createdAt updatedAt mergedAt closedAt
      headRefName headRefOid baseRefName baseRefOid isCrossRepository
      headRepository { nameWithOwner }
      mergeable mergeStateStatus reviewDecision additions deletions changedFiles
      author { __typename login }
      statusCheckRollup {
        id state
        contexts(first: 100) { pageInfo { hasNextPage endCursor } nodes { ...Context } }
      }
      reviewThreads(first: 100) { pageInfo { hasNextPage endCursor } nodes { ...Thread } }
    }
  }
}
${CONTEXT}
${THREAD}
${COMMENT}`;

export const MORE_CONTEXTS = `
query MoreContexts($id: ID!, $after: String!) {
  ${RATE_LIMIT}
  node(id: $id) {
    ... on StatusCheckRollup {
      contexts(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Context } }
    }
  }
}
${CONTEXT}`;

export const MORE_THREADS = `
query MoreThreads($id: ID!, $after: String!) {
  ${RATE_LIMIT}
  node(id: $id) {
    ... on PullRequest {
      reviewThreads(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Thread } }
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
      comments(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Comment } }
    }
  }
}
${COMMENT}`;

export const MERGEABILITY = `
query Mergeability($id: ID!) {
  ${RATE_LIMIT}
  node(id: $id) { ... on PullRequest { mergeable mergeStateStatus } }
}`;
