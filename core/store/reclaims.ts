import type { Db } from '../db/connect.js';
import { jsonb } from '../db/connect.js';
import type { ErrorBody } from '../errors.js';
import type { PrSnapshot } from '../domain.js';
import type { JobRun } from './jobs.js';

/**
 * The batch re-claim's writes (migrations/committed/000007): a reclaim_batch run works through
 * its reclaim_item children; every write names the parent's fence, so a run that lost it (taken
 * over, cancelled) writes nothing. Null / false answers mean the fence is lost.
 */

/** Makes the batch's items once (a resumed run finds them); the total, or null: fence lost. */
export async function createReclaimItems(db: Db, run: JobRun): Promise<number | null> {
  const [row] = await db<[{ total: number | null }]>`select ao.create_reclaim_items(${run.jobId}, ${run.run}::integer) as total`;
  return row.total;
}

export interface ReclaimItem {
  id: string;
  /** the PR's canonical URL (lower-cased) */
  pr: string;
}

/** The next unfinished items, in item order, after `after` (an item id; null: from the start). */
export async function nextReclaimItems(db: Db, batchId: string, after: string | null, limit: number): Promise<ReclaimItem[]> {
  return db<ReclaimItem[]>`select id, pr from ao.next_reclaim_items(${batchId}, ${after}, ${limit}::integer)`;
}

export type ReclaimApplied = { outcome: string } | { fenced: true };

/** One PR's snapshot through the per-PR lock, keeping its owner; finishes the item. */
export async function reclaimPr(db: Db, run: JobRun, itemId: string, snapshot: PrSnapshot): Promise<ReclaimApplied> {
  const [row] = await db<[{ reply: ReclaimApplied }]>`
    select ao.reclaim_pr(${run.jobId}, ${run.run}::integer, ${itemId}, ${jsonb(db, snapshot)}, ${run.startedAt}::timestamptz) as reply`;
  return row.reply;
}

export interface FinishedItem {
  id: string;
  /** failed:<code> or skipped:<reason> */
  outcome: string;
  error: ErrorBody | null;
}

/** Items that end without a snapshot, in one statement; how many it finished, or null: fence lost. */
export async function finishReclaimItems(db: Db, run: JobRun, items: FinishedItem[]): Promise<number | null> {
  if (items.length === 0) return 0;
  const [row] = await db<[{ n: number | null }]>`
    select ao.finish_reclaim_items(${run.jobId}, ${run.run}::integer, ${jsonb(db, items)}) as n`;
  return row.n;
}

/** progress {done, total} and the step on the parent; false: fence lost. */
export async function reportReclaimProgress(db: Db, run: JobRun, step: string): Promise<boolean> {
  const [row] = await db<[{ ok: boolean }]>`select ao.report_reclaim_progress(${run.jobId}, ${run.run}::integer, ${step}) as ok`;
  return row.ok;
}

export interface ReclaimCounts {
  refreshed: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

/** The batch succeeds with its counts; null: fence lost. */
export async function finishReclaimBatch(db: Db, run: JobRun): Promise<ReclaimCounts | null> {
  const [row] = await db<[{ counts: ReclaimCounts | null }]>`select ao.finish_reclaim_batch(${run.jobId}, ${run.run}::integer) as counts`;
  return row.counts;
}
