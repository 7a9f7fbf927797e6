import { GraphQLError } from 'graphql';

/** Fixtures: what tests put into the fake GitHub. Every field has a GitHub-like default. */

export interface FakeActor {
  login: string;
  type?: 'User' | 'Bot';
}
export interface FakeCheckRun {
  kind: 'CheckRun';
  name: string;
  status?: 'QUEUED' | 'IN_PROGRESS' | 'COMPLETED' | 'WAITING' | 'PENDING' | 'REQUESTED';
  conclusion?: 'SUCCESS' | 'FAILURE' | 'NEUTRAL' | 'CANCELLED' | 'SKIPPED' | 'TIMED_OUT' | 'ACTION_REQUIRED' | 'STALE' | 'STARTUP_FAILURE' | null;
  detailsUrl?: string;
}
export interface FakeStatusContext {
  kind: 'StatusContext';
  context: string;
  state: 'ERROR' | 'EXPECTED' | 'FAILURE' | 'PENDING' | 'SUCCESS';
  targetUrl?: string;
}
export interface FakeComment {
  id?: string;
  body: string;
  author: FakeActor | null;
  createdAt?: string;
  url?: string;
}
export interface FakeReviewThread {
  id?: string;
  isResolved?: boolean;
  path: string;
  line?: number | null;
  comments: FakeComment[];
}
export interface FakePullRequest {
  number: number;
  title?: string;
  author?: FakeActor | null;
  state?: 'OPEN' | 'CLOSED' | 'MERGED';
  isDraft?: boolean;
  headRefName?: string;
  baseRefName?: string;
  headRefOid?: string;
  baseRefOid?: string;
  isCrossRepository?: boolean;
  maintainerCanModify?: boolean;
  headRepository?: { owner: string; name: string } | null;
  mergeable?: 'MERGEABLE' | 'CONFLICTING' | 'UNKNOWN';
  mergeStateStatus?: 'BEHIND' | 'BLOCKED' | 'CLEAN' | 'DIRTY' | 'HAS_HOOKS' | 'UNKNOWN' | 'UNSTABLE' | 'DRAFT';
  /** GitHub computes mergeability lazily: the first N reads answer UNKNOWN */
  unknownMergeableReads?: number;
  reviewDecision?: 'APPROVED' | 'CHANGES_REQUESTED' | 'REVIEW_REQUIRED' | null;
  additions?: number;
  deletions?: number;
  changedFiles?: number;
  createdAt?: string;
  updatedAt?: string;
  mergedAt?: string | null;
  closedAt?: string | null;
  /** null: no checks at all (statusCheckRollup is null) */
  rollupState?: 'ERROR' | 'EXPECTED' | 'FAILURE' | 'PENDING' | 'SUCCESS' | null;
  contexts?: Array<FakeCheckRun | FakeStatusContext>;
  reviewThreads?: FakeReviewThread[];
}

export interface FakeRepo {
  owner: string;
  name: string;
  prs: Map<number, FakePullRequest>;
}

/** A resolver error that the server reports the way GitHub does: a top-level `type`. */
export class NotFound extends GraphQLError {
  constructor(message: string) {
    super(message);
  }
}

interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

const cursorOf = (i: number) => Buffer.from(`cursor:v2:${i}`).toString('base64');
const indexOf = (cursor: string | null | undefined) =>
  cursor === undefined || cursor === null ? undefined : Number(Buffer.from(cursor, 'base64').toString().split(':').at(-1));

/** A Relay connection over a list, with real cursors. */
export function connection<T>(items: readonly T[], args: ConnectionArgs) {
  let start = 0;
  let end = items.length;
  const after = indexOf(args.after);
  const before = indexOf(args.before);
  if (after !== undefined) start = after + 1;
  if (before !== undefined) end = before;
  if (typeof args.first === 'number') end = Math.min(end, start + args.first);
  if (typeof args.last === 'number') start = Math.max(start, end - args.last);
  const slice = items.slice(start, end);
  return {
    totalCount: items.length,
    nodes: slice,
    edges: slice.map((node, i) => ({ cursor: cursorOf(start + i), node })),
    pageInfo: {
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
      startCursor: slice.length ? cursorOf(start) : null,
      endCursor: slice.length ? cursorOf(end - 1) : null,
    },
  };
}

const sha = (seed: string) => {
  let h = 0;
  for (const ch of seed) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(5);
};

const actor = (a: FakeActor | null | undefined) =>
  a ? { __typename: a.type ?? 'User', login: a.login, url: `https://github.com/${a.login}` } : null;

/**
 * GraphQL objects for one PR. graphql-js' default resolver reads properties and calls functions
 * with the field's arguments, and resolves unions by `__typename`, so plain objects suffice.
 * `nodes` collects everything reachable by `node(id:)`.
 */
export function pullRequestObject(repo: FakeRepo, pr: FakePullRequest, nodes: Map<string, unknown>): Record<string, unknown> {
  const base = `${repo.owner}/${repo.name}#${pr.number}`;
  const url = `https://github.com/${repo.owner}/${repo.name}/pull/${pr.number}`;
  const headOid = pr.headRefOid ?? sha(`${base}:head`);
  const state = pr.state ?? 'OPEN';
  const id = `PR_${Buffer.from(base).toString('base64url')}`;
  const threads = (pr.reviewThreads ?? []).map((t, i) => {
    const threadId = t.id ?? `PRRT_${Buffer.from(`${base}:${i}`).toString('base64url')}`;
    const comments = t.comments.map((c, j) => ({
      __typename: 'PullRequestReviewComment',
      id: c.id ?? `PRRC_${Buffer.from(`${base}:${i}:${j}`).toString('base64url')}`,
      body: c.body,
      url: c.url ?? `${url}#discussion_r${i * 1000 + j}`,
      createdAt: c.createdAt ?? '2026-10-01T12:00:00Z',
      author: actor(c.author),
    }));
    const thread = {
      __typename: 'PullRequestReviewThread',
      id: threadId,
      isResolved: t.isResolved ?? false,
      isOutdated: false,
      isCollapsed: false,
      path: t.path,
      line: t.line ?? null,
      comments: (args: ConnectionArgs) => connection(comments, args),
    };
    nodes.set(threadId, thread);
    return thread;
  });
  const contexts = (pr.contexts ?? []).map((c) =>
    c.kind === 'CheckRun'
      ? { __typename: 'CheckRun', name: c.name, status: c.status ?? 'COMPLETED', conclusion: c.conclusion === undefined ? 'SUCCESS' : c.conclusion, detailsUrl: c.detailsUrl ?? null }
      : { __typename: 'StatusContext', context: c.context, state: c.state, targetUrl: c.targetUrl ?? null },
  );
  const rollupState = pr.rollupState === undefined ? (contexts.length ? 'SUCCESS' : null) : pr.rollupState;
  const rollup =
    rollupState === null
      ? null
      : { __typename: 'StatusCheckRollup', id: `SCR_${Buffer.from(base).toString('base64url')}`, state: rollupState, contexts: (args: ConnectionArgs) => connection(contexts, args) };
  if (rollup) nodes.set(rollup.id, rollup);
  // decided once per request, so mergeable and mergeStateStatus agree within one answer
  const notComputedYet = (pr.unknownMergeableReads ?? 0) > 0;
  let readsCounted = false;
  const obj: Record<string, unknown> = {
    __typename: 'PullRequest',
    id,
    number: pr.number,
    url,
    permalink: url,
    title: pr.title ?? `Pull request ${pr.number}`,
    body: '',
    state,
    isDraft: pr.isDraft ?? false,
    merged: state === 'MERGED',
    closed: state !== 'OPEN',
    createdAt: pr.createdAt ?? '2026-10-01T00:00:00Z',
    updatedAt: pr.updatedAt ?? '2026-10-02T00:00:00Z',
    mergedAt: pr.mergedAt ?? (state === 'MERGED' ? '2026-10-03T00:00:00Z' : null),
    closedAt: pr.closedAt ?? (state !== 'OPEN' ? '2026-10-03T00:00:00Z' : null),
    headRefName: pr.headRefName ?? `feature/${pr.number}`,
    baseRefName: pr.baseRefName ?? 'main',
    headRefOid: headOid,
    baseRefOid: pr.baseRefOid ?? sha(`${base}:base`),
    isCrossRepository: pr.isCrossRepository ?? false,
    maintainerCanModify: pr.maintainerCanModify ?? false,
    headRepository:
      pr.headRepository === null
        ? null
        : {
            name: pr.headRepository?.name ?? repo.name,
            nameWithOwner: `${pr.headRepository?.owner ?? repo.owner}/${pr.headRepository?.name ?? repo.name}`,
            owner: { login: pr.headRepository?.owner ?? repo.owner },
          },
    // reading mergeability uses up one of the "not computed yet" reads
    mergeable: () => {
      if (!notComputedYet) return pr.mergeable ?? 'MERGEABLE';
      if (!readsCounted) pr.unknownMergeableReads = (pr.unknownMergeableReads ?? 1) - 1;
      readsCounted = true;
      return 'UNKNOWN';
    },
    mergeStateStatus: () => (notComputedYet ? 'UNKNOWN' : (pr.mergeStateStatus ?? 'CLEAN')),
    reviewDecision: pr.reviewDecision ?? null,
    additions: pr.additions ?? 10,
    deletions: pr.deletions ?? 2,
    changedFiles: pr.changedFiles ?? 1,
    author: actor(pr.author === undefined ? { login: 'octocat' } : pr.author),
    statusCheckRollup: rollup,
    reviewThreads: (args: ConnectionArgs) => connection(threads, args),
  };
  nodes.set(id, obj);
  return obj;
}
