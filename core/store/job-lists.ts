import type { Db } from '../db/connect.js';
import type { JobKind, JobState } from '../domain.js';
import { jobNotFound } from './jobs.js';
import { CREATED_KEY_FORMAT, keysetPage, parseKeysetCursor, type KeyedRow, type KeysetPage } from './keyset-cursor.js';

/**
 * Pages of jobs, each job as JSON text from ao.job_answer_text: the very text GET /jobs/{id}
 * answers, so a listed job equals the fetched one, and the API sends it without a parse and a
 * re-serialisation per job (a succeeded claim carries its session's PRs).
 */

export interface JobFilter {
  kind?: JobKind | undefined;
  state?: JobState | undefined;
  sessionId?: string | undefined;
}

export interface JobPageRequest {
  /** a page's nextCursor; absent: the first page */
  cursor?: string | undefined;
  /** jobs per page (the API allows 1..1000) */
  limit: number;
}

/** A page whose items are jobs as JSON text. */
export type JobTextPage = KeysetPage<string>;

type JobRow = { json: string } & KeyedRow;

/**
 * Newest first (created_at desc, then id desc), keyset-paged: a job created while a client pages
 * is not in the pages after the first, and none is shown twice.
 */
export async function listJobs(db: Db, filter: JobFilter, page: JobPageRequest): Promise<JobTextPage> {
  const before = page.cursor === undefined ? null : parseKeysetCursor(page.cursor);
  const rows = await db<JobRow[]>`
    select ao.job_answer_text(j) as json,
      to_char(j.created_at at time zone 'UTC', ${CREATED_KEY_FORMAT}) as created_key, j.id
    from ao.jobs j
    where (${filter.kind ?? null}::text is null or j.kind = ${filter.kind ?? null})
      and (${filter.state ?? null}::text is null or j.state = ${filter.state ?? null})
      ${filter.sessionId === undefined ? db`` : db`and j.session_id = ${filter.sessionId}`}
      ${before ? db`and (j.created_at, j.id) < (${before.createdAt}::text::timestamptz, ${before.id}::text)` : db``}
    order by j.created_at desc, j.id desc
    limit ${page.limit + 1}`;
  return keysetPage(rows, page.limit, (row) => row.json);
}

/**
 * The children of a job (a batch's items) in creation order (created_at, then id), keyset-paged.
 * JOB_NOT_FOUND when the parent does not exist; a job without children has an empty last page.
 * One statement, so the parent's existence and its children are read from the same snapshot.
 */
export async function listJobItems(db: Db, parentId: string, page: JobPageRequest): Promise<JobTextPage> {
  const after = page.cursor === undefined ? null : parseKeysetCursor(page.cursor);
  const rows = await db<Array<{ [K in keyof JobRow]: JobRow[K] | null }>>`
    select c.json, c.created_key, c.id
    from ao.jobs p
    left join lateral (
      select ao.job_answer_text(j) as json,
        to_char(j.created_at at time zone 'UTC', ${CREATED_KEY_FORMAT}) as created_key, j.id
      from ao.jobs j
      where j.parent_id = p.id
        ${after ? db`and (j.created_at, j.id) > (${after.createdAt}::text::timestamptz, ${after.id}::text)` : db``}
      order by j.created_at, j.id
      limit ${page.limit + 1}
    ) c on true
    where p.id = ${parentId}`;
  if (rows.length === 0) throw jobNotFound(parentId);
  const children = rows.filter((row): row is JobRow => row.id !== null && row.json !== null && row.created_key !== null);
  return keysetPage(children, page.limit, (row) => row.json);
}
