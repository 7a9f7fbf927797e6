import { GraphqlResponseError } from '@octokit/graphql';
import { ZodError } from 'zod';
import { AoError } from '../../core/errors.js';

/**
 * Failed GitHub calls as AoErrors (SPEC §3.4, seed §2.5 "Errors", G9):
 *  - GraphQL NOT_FOUND on the PR or the repository, HTTP 404 → PR_NOT_FOUND. GitHub answers the
 *    same for a private repository the token cannot see, so the message says both.
 *  - GraphQL RATE_LIMITED or a rate-limit/abuse message, 429, 403 with `x-ratelimit-remaining: 0`,
 *    `retry-after` or a rate-limit message → SCM_RATE_LIMITED with `details.retryAt` (ISO).
 *  - 401, other 403s, GraphQL FORBIDDEN / INSUFFICIENT_SCOPES → SCM_AUTH_FAILED (not retried).
 *  - 5xx, network failures, timeouts, aborts, unreadable answers → SCM_UNAVAILABLE (retried).
 *  - GitHub rejecting the query document itself → INTERNAL_ERROR: a bug in ao that no retry fixes.
 *
 * The octokit errors are never chained as `cause`: GraphqlResponseError keeps the request options
 * with the authorization header unredacted, and a logged cause would print the token.
 */

export type Headers = Record<string, string | number | undefined>;

const RATE_LIMIT_MESSAGE = /rate limit|abuse/i;

const header = (headers: Headers | undefined, name: string): string | undefined => {
  const value = headers?.[name];
  return value === undefined ? undefined : String(value);
};

/**
 * When to try again, as GitHub documents it: `retry-after` if given; else, when the primary
 * limit is used up (`x-ratelimit-remaining: 0`), its reset (`x-ratelimit-reset`, epoch seconds);
 * else a minute (a secondary limit without a hint). Never in the past, whatever the clocks say.
 */
export function retryAt(headers: Headers | undefined, now = Date.now()): string {
  const atLeastASecond = (ms: number) => new Date(Math.max(ms, now + 1000)).toISOString();
  const retryAfter = header(headers, 'retry-after')?.trim();
  if (retryAfter) {
    // seconds, as GitHub sends it; RFC 9110 also allows an HTTP date
    const at = /^\d+$/.test(retryAfter) ? now + Number(retryAfter) * 1000 : Date.parse(retryAfter);
    if (!Number.isNaN(at)) return atLeastASecond(at);
  }
  const remaining = header(headers, 'x-ratelimit-remaining');
  const reset = Number(header(headers, 'x-ratelimit-reset'));
  if ((remaining === '0' || remaining === undefined) && Number.isFinite(reset) && reset > 0) return atLeastASecond(reset * 1000);
  return new Date(now + 60_000).toISOString();
}

function rateLimited(headers: Headers | undefined, what: string): AoError {
  const at = retryAt(headers);
  return new AoError('SCM_RATE_LIMITED', `GitHub rate limit reached while reading ${what}; retry after ${at}`, { retryAt: at });
}

export interface HttpErrorLike {
  status: number;
  message: string;
  response?: { headers?: Headers };
}

export function isHttpError(err: unknown): err is HttpErrorLike {
  return err instanceof Error && typeof (err as { status?: unknown }).status === 'number';
}

export interface GraphqlError {
  type?: string;
  message?: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

/** GraphQL `errors` as one AoError: of a whole answer, or of one alias of a batch (`path[0]` the alias). */
export function classifyGraphqlErrors(errors: readonly GraphqlError[], headers: Headers | undefined, what: string): AoError {
  const messages = errors.map((e) => e.message ?? '').join('; ');
  const notFound = errors.find((e) => e.type === 'NOT_FOUND' || (e.type === undefined && /could not resolve to/i.test(e.message ?? '')));
  if (notFound) {
    // a follow-up page addresses a rollup or thread by id; when that is gone the PR changed under
    // us, and a fresh read (a retry) gives a consistent snapshot: it is not a missing PR
    if (notFound.path?.[0] === 'node') {
      return new AoError('SCM_UNAVAILABLE', `${what} changed while it was being read from GitHub; a retry reads it afresh`);
    }
    // [`repository`] or [alias]: the repository itself; [_, `pullRequest`]: the PR
    const repoMissing = notFound.path?.length === 1;
    const message = repoMissing
      ? `${what} was not found: GitHub has no repository by that name (or the token cannot see it)`
      : `${what} was not found on GitHub (or the token cannot see its repository)`;
    return new AoError('PR_NOT_FOUND', message, { ref: what });
  }
  if (errors.some((e) => e.type === 'RATE_LIMITED' || RATE_LIMIT_MESSAGE.test(e.message ?? ''))) return rateLimited(headers, what);
  if (errors.some((e) => e.type === 'FORBIDDEN' || e.type === 'INSUFFICIENT_SCOPES')) {
    return new AoError('SCM_AUTH_FAILED', `GitHub refused access to ${what}: ${messages}`);
  }
  // GitHub's static validation errors carry `extensions.code` and no `type`
  if (errors.some((e) => e.type === 'MAX_NODE_LIMIT_EXCEEDED' || (e.type === undefined && typeof e.extensions?.code === 'string'))) {
    return new AoError('INTERNAL_ERROR', `GitHub rejected ao's query for ${what}: ${messages}`);
  }
  return new AoError('SCM_UNAVAILABLE', `GitHub answered with errors for ${what}: ${messages}`);
}

function fromHttpError(err: HttpErrorLike, what: string): AoError {
  // octokit reports a failure without a response (DNS, refused or reset connection) as status 500
  if (!err.response) return new AoError('SCM_UNAVAILABLE', `GitHub could not be reached for ${what}: ${err.message}`);
  const headers = err.response.headers;
  if (err.status === 401) {
    return new AoError('SCM_AUTH_FAILED', 'GitHub rejected the token (401 Bad credentials): check GITHUB_TOKEN or `gh auth status`', { status: 401 });
  }
  if (err.status === 429) return rateLimited(headers, what);
  if (err.status === 403) {
    if (header(headers, 'x-ratelimit-remaining') === '0' || header(headers, 'retry-after') !== undefined || RATE_LIMIT_MESSAGE.test(err.message)) {
      return rateLimited(headers, what);
    }
    return new AoError('SCM_AUTH_FAILED', `GitHub refused the request for ${what} (403): ${err.message}`, { status: 403 });
  }
  if (err.status === 404) return new AoError('PR_NOT_FOUND', `${what} was not found on GitHub (HTTP 404)`, { ref: what, status: 404 });
  return new AoError('SCM_UNAVAILABLE', `GitHub answered HTTP ${err.status} for ${what}`, { status: err.status });
}

/** `what` names the PR (owner/repo#n) in the message. Nothing here ever reads the token. */
export function classifyGitHubError(err: unknown, what: string): AoError {
  if (err instanceof AoError) return err;
  if (err instanceof GraphqlResponseError) return classifyGraphqlErrors((err.errors as GraphqlError[] | undefined) ?? [], err.headers as Headers, what);
  if (err instanceof ZodError) {
    return new AoError('SCM_UNAVAILABLE', `GitHub's answer for ${what} has an unexpected shape: ${err.issues[0]?.message ?? 'invalid'}`);
  }
  if (isHttpError(err)) return fromHttpError(err, what);
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new AoError('SCM_UNAVAILABLE', `the GitHub request for ${what} was cancelled`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AoError('SCM_UNAVAILABLE', `GitHub could not be reached for ${what}: ${message}`);
}

/** The primary window from `x-ratelimit-*` headers (every answer has them, errors included), or null. */
export function windowFromHeaders(headers: Headers | undefined): { limit: number; remaining: number; resetAt: string } | null {
  const limit = Number(header(headers, 'x-ratelimit-limit'));
  const remaining = Number(header(headers, 'x-ratelimit-remaining'));
  const reset = Number(header(headers, 'x-ratelimit-reset'));
  // Number(undefined) is NaN: a header that is missing fails the same check as a garbled one
  if (![limit, remaining, reset].every(Number.isFinite) || limit <= 0 || reset <= 0) return null;
  return { limit, remaining, resetAt: new Date(reset * 1000).toISOString() };
}
