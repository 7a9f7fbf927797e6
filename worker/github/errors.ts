import { GraphqlResponseError } from '@octokit/graphql';
import { AoError } from '../../core/errors.js';

type Headers = Record<string, string | number | undefined>;

const RATE_LIMIT_MESSAGE = /rate limit|abuse/i;

/** When GitHub says the limit resets: `retry-after` seconds, else `x-ratelimit-reset`, else a minute. */
function retryAt(headers: Headers | undefined): string {
  const retryAfter = Number(headers?.['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return new Date(Date.now() + retryAfter * 1000).toISOString();
  const reset = Number(headers?.['x-ratelimit-reset']);
  if (Number.isFinite(reset) && reset > 0) return new Date(reset * 1000).toISOString();
  return new Date(Date.now() + 60_000).toISOString();
}

function rateLimited(headers: Headers | undefined): AoError {
  const at = retryAt(headers);
  return new AoError('SCM_RATE_LIMITED', `GitHub rate limit reached; it resets at ${at}`, { retryAt: at });
}

interface HttpErrorLike {
  status: number;
  message: string;
  response?: { headers?: Headers };
}

function isHttpError(err: unknown): err is HttpErrorLike {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

/**
 * A failed GitHub call as an AoError (issue #3): NOT_FOUND → PR_NOT_FOUND (also a private
 * repository without access: GitHub does not tell them apart), 401 and other 403s →
 * SCM_AUTH_FAILED, rate limits (403/429 with the headers, or RATE_LIMITED in a 200) →
 * SCM_RATE_LIMITED with details.retryAt, anything else (5xx, network, timeout) → SCM_UNAVAILABLE.
 * Messages never carry the token.
 */
export function classifyGitHubError(err: unknown, what: string): AoError {
  if (err instanceof AoError) return err;
  if (err instanceof GraphqlResponseError) {
    const errors = err.errors ?? [];
    if (errors.some((e) => e.type === 'NOT_FOUND')) return new AoError('PR_NOT_FOUND', `${what} was not found on GitHub (or the token cannot see it)`, { ref: what });
    if (errors.some((e) => e.type === 'RATE_LIMITED' || RATE_LIMIT_MESSAGE.test(e.message))) return rateLimited(err.headers as Headers);
    if (errors.some((e) => e.type === 'FORBIDDEN')) return new AoError('SCM_AUTH_FAILED', `GitHub refused access to ${what}: ${errors[0]?.message ?? ''}`);
    return new AoError('SCM_UNAVAILABLE', `GitHub answered with errors: ${errors.map((e) => e.message).join('; ')}`);
  }
  if (isHttpError(err)) {
    const headers = err.response?.headers;
    if (err.status === 401) return new AoError('SCM_AUTH_FAILED', 'GitHub rejected the token (401 Bad credentials): check GITHUB_TOKEN or `gh auth status`');
    if (err.status === 403 || err.status === 429) {
      if (String(headers?.['x-ratelimit-remaining']) === '0' || headers?.['retry-after'] !== undefined || RATE_LIMIT_MESSAGE.test(err.message)) {
        return rateLimited(headers);
      }
      return new AoError('SCM_AUTH_FAILED', `GitHub refused the request (403): ${err.message}`);
    }
    if (err.status === 404) return new AoError('PR_NOT_FOUND', `${what} was not found on GitHub`, { ref: what });
    return new AoError('SCM_UNAVAILABLE', `GitHub answered HTTP ${err.status}`, { status: err.status });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AoError('SCM_UNAVAILABLE', `GitHub could not be reached: ${message}`);
}
