import postgres from 'postgres';
import type { Db } from '../db/connect.js';
import { AoError, validationFailed } from '../errors.js';

export interface ChangeEvent {
  /** the cursor: pass it back as `after` */
  id: string;
  txId: string;
  op: 'insert' | 'update' | 'delete';
  type: string;
  entity: 'session' | 'pr' | 'check' | 'review_thread' | 'job';
  key: string;
  projectId: string | null;
  sessionId: string | null;
  jobId: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  createdAt: string;
}

/**
 * A position in the change log. Events are read in (transaction id, id) order and only below
 * a horizon no running transaction of the database is under (ao.read_change_log), so a reader
 * never moves past an event that has yet to commit (gap-free). The cursor is `<txId>-<id>`;
 * "0" is the beginning.
 */
export interface Cursor {
  txId: bigint;
  id: bigint;
}

export const START: Cursor = { txId: 0n, id: 0n };

/** The largest value of a Postgres bigint: a cursor component above it names no event. */
const MAX_BIGINT = 9223372036854775807n;

/**
 * Reads a cursor a client passed back; anything else is VALIDATION_FAILED naming `field` (the
 * query parameter or header it came in), never a database error.
 */
export function parseCursor(value: string | undefined | null, field = 'after'): Cursor {
  if (value === undefined || value === null || value === '' || value === '0') return START;
  const match = /^(\d{1,19})-(\d{1,19})$/.exec(value);
  const cursor = match ? { txId: BigInt(match[1] as string), id: BigInt(match[2] as string) } : null;
  if (!cursor || cursor.txId > MAX_BIGINT || cursor.id > MAX_BIGINT) {
    const shown = value.length > 64 ? `${JSON.stringify(value.slice(0, 64))}…` : JSON.stringify(value);
    throw validationFailed(field, `${shown} is not an event id: pass the id of the last event read, or 0 for the beginning`);
  }
  return cursor;
}

export function formatCursor(cursor: Cursor): string {
  return cursor.txId === 0n && cursor.id === 0n ? '0' : `${cursor.txId}-${cursor.id}`;
}

interface Row {
  tx_id: string;
  id: string;
  op: ChangeEvent['op'];
  type: string;
  entity: ChangeEvent['entity'];
  entity_key: string;
  project_id: string | null;
  session_id: string | null;
  job_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  created_at: string;
}

/** raised by ao.read_change_log_checked for a cursor below the retention floor */
const CURSOR_EXPIRED_SQLSTATE = 'AO410';

/**
 * Events after `after`, gap-free; CURSOR_EXPIRED (details.oldest: where to read on from) when
 * retention deleted events the reader has not seen.
 */
export async function readEvents(
  db: Db,
  options: { after: Cursor; limit: number },
): Promise<{ events: ChangeEvent[]; nextCursor: string }> {
  let rows: Row[];
  try {
    rows = await db<Row[]>`
      select tx_id::text, id::text, op, type, entity, entity_key, project_id, session_id, job_id,
        before, after, ao.iso(created_at) as created_at
      from ao.read_change_log_checked(${options.after.txId.toString()}::bigint, ${options.after.id.toString()}::bigint,
        ${options.limit}::integer)`;
  } catch (err) {
    if (err instanceof postgres.PostgresError && err.code === CURSOR_EXPIRED_SQLSTATE) {
      const oldest = err.detail ?? '0';
      throw new AoError(
        'CURSOR_EXPIRED',
        `events after cursor ${formatCursor(options.after)} were deleted by retention; read again from ${oldest} (events in between are gone)`,
        { cursor: formatCursor(options.after), oldest },
      );
    }
    throw err;
  }
  const events = rows.map(
    (r): ChangeEvent => ({
      id: `${r.tx_id}-${r.id}`,
      txId: r.tx_id,
      op: r.op,
      type: r.type,
      entity: r.entity,
      key: r.entity_key,
      projectId: r.project_id,
      sessionId: r.session_id,
      jobId: r.job_id,
      before: r.before,
      after: r.after,
      createdAt: r.created_at,
    }),
  );
  const last = events.at(-1);
  return { events, nextCursor: last ? last.id : formatCursor(options.after) };
}
