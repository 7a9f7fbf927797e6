import { validationFailed } from '../errors.js';

/**
 * Keyset paging by (created_at, id), shared by every list that pages in creation order (sessions,
 * jobs, a batch's items): a page costs the same wherever it starts, and a row created while a
 * client pages appears once or not at all, never twice.
 */

/** Where a page ends: the (created_at, id) of its last row. */
export interface KeysetPosition {
  /** created_at in UTC with all six fractional digits, so the cursor loses no precision */
  createdAt: string;
  id: string;
}

/**
 * to_char format of created_at for a cursor (with `at time zone 'UTC'`). The time goes back to
 * Postgres as text: postgres.js would send a timestamptz parameter through a JS Date, which keeps
 * milliseconds only, and rows created in the same millisecond would be skipped or repeated.
 */
export const CREATED_KEY_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

const CREATED_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** An opaque cursor: base64url of the JSON `[createdAt, id]`. */
export function formatKeysetCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** Reads a cursor of formatKeysetCursor; anything else is VALIDATION_FAILED naming `cursor`. */
export function parseKeysetCursor(cursor: string): KeysetPosition {
  let parsed: unknown = null;
  if (/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) {
    try {
      parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      parsed = null;
    }
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    CREATED_KEY.test(parsed[0]) &&
    Number.isFinite(Date.parse(parsed[0])) &&
    typeof parsed[1] === 'string' &&
    parsed[1].length > 0 &&
    !parsed[1].includes('\0')
  ) {
    return { createdAt: parsed[0], id: parsed[1] };
  }
  throw validationFailed('cursor', 'not a cursor of this list: pass the nextCursor of the previous page, or none for the first');
}

/** A row of a keyset query: its key, selected as `created_key` (CREATED_KEY_FORMAT) and `id`. */
export interface KeyedRow {
  created_key: string;
  id: string;
}

export interface KeysetPage<T> {
  items: T[];
  /** pass back as `cursor` for the next page; null: this was the last one */
  nextCursor: string | null;
}

/**
 * A page from the `limit + 1` rows a keyset query fetched: the extra row only says another page
 * exists, so a full last page ends with a null cursor rather than an empty page after it.
 */
export function keysetPage<R extends KeyedRow, T>(rows: readonly R[], limit: number, render: (row: R) => T): KeysetPage<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return {
    items: kept.map(render),
    nextCursor: more && last ? formatKeysetCursor({ createdAt: last.created_key, id: last.id }) : null,
  };
}
