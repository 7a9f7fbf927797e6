import postgres from 'postgres';
import { AoError } from '../core/errors.js';

/** Codes worth another attempt: the next try may well succeed. */
const TRANSIENT = new Set(['SCM_UNAVAILABLE', 'DATABASE_UNAVAILABLE']);

// Postgres errors that a retry fixes: serialization, deadlock, shutdown, connection loss.
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '08000', '08003', '08006']);
const TRANSIENT_CLIENT_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
]);

/** Any failure inside a job as an AoError with a stable code. */
export function asJobError(err: unknown): AoError {
  if (err instanceof AoError) return err;
  if (err instanceof postgres.PostgresError) {
    const code = TRANSIENT_SQLSTATES.has(err.code) ? 'DATABASE_UNAVAILABLE' : 'INTERNAL_ERROR';
    return new AoError(code, `database error: ${err.message}`, { sqlstate: err.code }, { cause: err });
  }
  const clientCode = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (TRANSIENT_CLIENT_CODES.has(clientCode)) {
    return new AoError('DATABASE_UNAVAILABLE', `database unavailable (${clientCode})`, null, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AoError('INTERNAL_ERROR', `unexpected error: ${message}`, null, { cause: err });
}

export function isTransient(error: AoError): boolean {
  return TRANSIENT.has(error.code);
}
