/**
 * Stable error codes (SPEC §3, §9). Every failure that leaves ao — an HTTP problem, a job error,
 * a CLI exit — carries one of these codes. The HTTP status lives next to the code so that the API,
 * the worker and the CLI agree on it without a second table.
 */
export const ERROR_STATUS = {
  // request shape
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  PR_REQUIRED: 400,
  INVALID_PR_REF: 400,
  PROJECT_NOT_RESOLVABLE: 400,
  PROJECT_PATH_INVALID: 400,
  BRANCH_INVALID: 400,
  UNAUTHORIZED: 401,
  // lookups
  ROUTE_NOT_FOUND: 404,
  PROJECT_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  PR_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // state conflicts
  PROJECT_EXISTS: 409,
  PROJECT_HAS_SESSIONS: 409,
  SESSION_TERMINATED: 409,
  PR_NOT_OPEN: 409,
  JOB_FINISHED: 409,
  PR_CLAIMED_BY_ACTIVE_SESSION: 409,
  WORKSPACE_DIRTY: 409,
  BRANCH_CHECKED_OUT_ELSEWHERE: 409,
  CURSOR_EXPIRED: 410,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SESSION_NOT_CLAIMABLE: 422,
  SESSION_NO_WORKSPACE: 422,
  PR_PROJECT_MISMATCH: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  // dependencies
  INTERNAL_ERROR: 500,
  // a job whose runs kept dying before they finished (a crash loop, a poison job)
  JOB_STALLED: 500,
  WORKSPACE_FAILED: 500,
  SCM_AUTH_FAILED: 502,
  SCM_UNAVAILABLE: 503,
  SCM_RATE_LIMITED: 503,
  QUEUE_UNAVAILABLE: 503,
  // work for a host none of whose workers answered in time (SPEC §9)
  HOST_UNAVAILABLE: 503,
  DATABASE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export type ErrorDetails = Record<string, unknown>;

/** The serialisable form stored on a job and returned in problem documents. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: ErrorDetails | null;
}

export class AoError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | null;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails | null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AoError';
    this.code = code;
    this.details = details ?? null;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isAoError(err: unknown): err is AoError {
  return err instanceof AoError;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

/**
 * VALIDATION_FAILED naming the offending field, in the shape the API gives schema failures
 * (`details.issues: [{path, message}]`), for inputs a schema alone cannot check (cursors, ids).
 */
export function validationFailed(path: string, message: string): AoError {
  return new AoError('VALIDATION_FAILED', `invalid ${path}: ${message}`, { issues: [{ path, message }] });
}
