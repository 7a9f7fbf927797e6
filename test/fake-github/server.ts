import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execute, GraphQLError, parse, type DocumentNode } from 'graphql';
import { NotFound, pullRequestObject, type FakePullRequest, type FakeRepo } from './model.js';
import { checkQuery, schema } from './schema-rules.js';

export interface FakeStats {
  requests: number;
  invalidQueries: number;
  deprecatedFieldUses: number;
  totalCost: number;
  /** requests being answered right now, and the most there ever were at once */
  inFlight: number;
  peakInFlight: number;
  log: Array<{ query: string; variables: unknown; status: number; valid: boolean; errors: string[]; cost: number; nodeCount: number }>;
}

export interface FakeGitHub {
  /** the GraphQL endpoint, e.g. http://127.0.0.1:PORT/graphql (also served at /api/graphql) */
  readonly url: string;
  readonly token: string;
  addRepo(owner: string, name: string): void;
  addPullRequest(owner: string, name: string, pr: FakePullRequest): FakePullRequest;
  updatePullRequest(owner: string, name: string, number: number, patch: Partial<FakePullRequest>): void;
  /** the PR is gone (deleted, or its repository made private): reads of it answer NOT_FOUND */
  removePullRequest(owner: string, name: string, number: number): void;
  /**
   * Moves GitHub's primary window: `remaining` points left until `resetAt` (default: the current
   * window's reset; a later one starts a new window). A query costing more than what remains is
   * answered RATE_LIMITED, as GitHub does.
   */
  setRateLimit(window: { remaining: number; resetAt?: string; limit?: number }): void;
  /** the next `count` requests answer `status` (default 502) */
  failNext(count: number, status?: number): void;
  rateLimitNext(count: number, opts?: { resetInSeconds?: number; form?: 'http403' | 'graphql' | 'secondary' }): void;
  setDelay(ms: number): void;
  /** holds every request from now on until `release()` */
  holdRequests(): { release(): void };
  /** resolves once `count` requests have arrived in total */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  readonly stats: FakeStats;
  reset(): void;
  close(): Promise<void>;
}

const LIMIT = 5000;
const HOUR_MS = 3600_000;
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};

/**
 * A GitHub GraphQL endpoint for tests and offline demos: it validates every query against
 * GitHub's published schema and GitHub's own limits, answers from fixtures, and can fail, rate
 * limit, slow down or hold requests on demand.
 */
export async function startFakeGitHub(opts: { token?: string; port?: number; host?: string; /** points per window (GitHub's 5,000) */ limit?: number } = {}): Promise<FakeGitHub> {
  schema(); // build the schema before the first request rather than during it
  const token = opts.token ?? 'fake-token';
  const repos = new Map<string, FakeRepo>();
  const stats: FakeStats = { requests: 0, invalidQueries: 0, deprecatedFieldUses: 0, totalCost: 0, inFlight: 0, peakInFlight: 0, log: [] };
  let failures: { count: number; status: number } = { count: 0, status: 502 };
  let rateLimits: { count: number; resetInSeconds: number; form: 'http403' | 'graphql' | 'secondary' } = { count: 0, resetInSeconds: 60, form: 'http403' };
  let delayMs = 0;
  let gate: Promise<void> | null = null;
  // GitHub's primary window: a fixed reset (whole seconds, as GitHub reports it), rolled over once passed
  const window = { limit: LIMIT, used: 0, resetAtMs: 0 };
  const newWindow = () => Object.assign(window, { limit: opts.limit ?? LIMIT, used: 0, resetAtMs: Math.ceil((Date.now() + HOUR_MS) / 1000) * 1000 });
  newWindow();
  const current = () => {
    if (Date.now() >= window.resetAtMs) newWindow();
    return window;
  };
  const remainingPoints = () => Math.max(current().limit - window.used, 0);
  const arrivals: Array<{ count: number; resolve: () => void }> = [];

  const key = (owner: string, name: string) => `${owner.toLowerCase()}/${name.toLowerCase()}`;
  const repoOf = (owner: string, name: string): FakeRepo => {
    const k = key(owner, name);
    let repo = repos.get(k);
    if (!repo) {
      repo = { owner, name, prs: new Map() };
      repos.set(k, repo);
    }
    return repo;
  };

  const rateHeaders = (remaining = remainingPoints(), resetAtMs = current().resetAtMs): Record<string, string> => ({
    'x-ratelimit-limit': String(window.limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-used': String(window.limit - remaining),
    'x-ratelimit-reset': String(Math.floor(resetAtMs / 1000)),
    'x-ratelimit-resource': 'graphql',
  });

  function rootValue(cost: number) {
    const nodes = new Map<string, unknown>();
    const objects = (repo: FakeRepo) => {
      for (const pr of repo.prs.values()) pullRequestObject(repo, pr, nodes);
    };
    for (const repo of repos.values()) objects(repo);
    return {
      rateLimit: () => ({ cost, limit: window.limit, remaining: remainingPoints(), used: window.used, resetAt: new Date(window.resetAtMs).toISOString().replace('.000Z', 'Z'), nodeCount: 0 }),
      viewer: { login: 'ao-fake', __typename: 'User' },
      node: ({ id }: { id: string }) => {
        const node = nodes.get(id);
        if (!node) throw new NotFound(`Could not resolve to a node with the global id of '${id}'`);
        return node;
      },
      repository: ({ owner, name }: { owner: string; name: string }) => {
        const repo = repos.get(key(owner, name));
        if (!repo) throw new NotFound(`Could not resolve to a Repository with the name '${owner}/${name}'.`);
        return {
          __typename: 'Repository',
          name: repo.name,
          nameWithOwner: `${repo.owner}/${repo.name}`,
          owner: { login: repo.owner, __typename: 'Organization' },
          pullRequest: ({ number }: { number: number }) => {
            const pr = repo.prs.get(number);
            if (!pr) throw new NotFound(`Could not resolve to a PullRequest with the number of ${number}.`);
            return pullRequestObject(repo, pr, nodes);
          },
        };
      },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || (path !== '/graphql' && path !== '/api/graphql')) {
      return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/graphql' });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    stats.requests++;
    stats.inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, stats.inFlight);
    res.once('close', () => void stats.inFlight--);
    for (const waiter of arrivals.filter((a) => stats.requests >= a.count)) {
      arrivals.splice(arrivals.indexOf(waiter), 1);
      waiter.resolve();
    }
    const logEntry = { query: '', variables: {} as unknown, status: 200, valid: false, errors: [] as string[], cost: 0, nodeCount: 0 };
    stats.log.push(logEntry);
    const answer = (status: number, body: unknown, headers: Record<string, string> = rateHeaders()) => {
      logEntry.status = status;
      json(res, status, body, headers);
    };

    if (gate) await gate;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));

    const auth = /^(?:bearer|token)\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!auth || auth[1] !== token) {
      return answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/graphql' }, {});
    }
    if (failures.count > 0) {
      failures.count--;
      return answer(failures.status, { message: 'Server Error' });
    }
    if (rateLimits.count > 0) {
      rateLimits.count--;
      const headers = rateHeaders(0, Date.now() + rateLimits.resetInSeconds * 1000);
      const message = 'API rate limit exceeded for user ID 1.';
      if (rateLimits.form === 'graphql') return answer(200, { errors: [{ type: 'RATE_LIMITED', message }] }, headers);
      if (rateLimits.form === 'secondary') {
        return answer(403, { message: 'You have exceeded a secondary rate limit.' }, { ...rateHeaders(), 'retry-after': String(rateLimits.resetInSeconds) });
      }
      return answer(403, { message, documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' }, headers);
    }

    let body: { query?: unknown; variables?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return answer(400, { message: 'Problems parsing JSON' });
    }
    const query = typeof body.query === 'string' ? body.query : '';
    const variables = (typeof body.variables === 'object' && body.variables !== null ? body.variables : {}) as Record<string, unknown>;
    logEntry.query = query;
    logEntry.variables = variables;
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      stats.invalidQueries++;
      logEntry.errors = [err instanceof Error ? err.message : String(err)];
      return answer(200, { errors: [{ message: logEntry.errors[0] }] });
    }
    const check = checkQuery(document, variables);
    stats.deprecatedFieldUses += check.deprecated;
    logEntry.errors = check.errors;
    if (check.errors.length > 0) {
      stats.invalidQueries++;
      return answer(200, { errors: check.errors.map((message) => ({ message })) });
    }
    logEntry.valid = true;
    logEntry.cost = check.cost;
    logEntry.nodeCount = check.nodeCount;
    if (check.cost > remainingPoints()) {
      return answer(200, { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded for user ID 1.' }] }, rateHeaders(0));
    }
    window.used += check.cost;
    stats.totalCost += check.cost;
    const result = await execute({ schema: schema(), document, rootValue: rootValue(check.cost), variableValues: variables });
    const errors = result.errors?.map((e: GraphQLError) => ({
      ...(e.originalError instanceof NotFound || e instanceof NotFound ? { type: 'NOT_FOUND' } : {}),
      path: e.path,
      locations: e.locations,
      message: e.message,
    }));
    return answer(200, { data: result.data ?? null, ...(errors ? { errors } : {}) });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => json(res, 500, { message: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/graphql`,
    token,
    stats,
    addRepo: (owner, name) => void repoOf(owner, name),
    addPullRequest(owner, name, pr) {
      const stored = { ...pr };
      repoOf(owner, name).prs.set(pr.number, stored);
      return stored;
    },
    updatePullRequest(owner, name, number, patch) {
      const pr = repoOf(owner, name).prs.get(number);
      if (!pr) throw new Error(`no PR ${owner}/${name}#${number}`);
      Object.assign(pr, patch);
    },
    removePullRequest(owner, name, number) {
      if (!repoOf(owner, name).prs.delete(number)) throw new Error(`no PR ${owner}/${name}#${number}`);
    },
    setRateLimit({ remaining, resetAt, limit }) {
      const at = resetAt === undefined ? current().resetAtMs : Date.parse(resetAt);
      if (Number.isNaN(at)) throw new Error(`not a time: ${resetAt}`);
      window.limit = limit ?? window.limit;
      window.resetAtMs = at;
      window.used = Math.max(window.limit - remaining, 0);
    },
    failNext: (count, status = 502) => void (failures = { count, status }),
    rateLimitNext: (count, o = {}) => void (rateLimits = { count, resetInSeconds: o.resetInSeconds ?? 60, form: o.form ?? 'http403' }),
    setDelay: (ms) => void (delayMs = ms),
    holdRequests() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return {
        release() {
          gate = null;
          release();
        },
      };
    },
    waitForRequests(count, timeoutMs = 10_000) {
      if (stats.requests >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fake GitHub: ${stats.requests} of ${count} requests after ${timeoutMs} ms`)), timeoutMs);
        arrivals.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    reset() {
      // in-flight requests of the previous test still count down on their way out
      Object.assign(stats, { requests: 0, invalidQueries: 0, deprecatedFieldUses: 0, totalCost: 0, peakInFlight: stats.inFlight, log: [] });
      newWindow();
      failures = { count: 0, status: 502 };
      rateLimits = { count: 0, resetInSeconds: 60, form: 'http403' };
      delayMs = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
