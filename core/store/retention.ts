import type { Db } from '../db/connect.js';

export interface RetentionBatch {
  events: number;
  jobs: number;
  idempotencyKeys: number;
  checks: number;
}

/**
 * One batch of retention (ao.apply_retention): change-log events older than the retention and
 * final, finished jobs with their idempotency keys, old idempotency keys, checks of commits no
 * longer at a PR's head. Deleting is housekeeping and writes no events; the change-log floor
 * moves so that a reader who missed deleted events is told (CURSOR_EXPIRED).
 */
export async function applyRetention(db: Db, retentionSeconds: number, batch = 5000): Promise<RetentionBatch> {
  const [row] = await db<[{ deleted: RetentionBatch }]>`
    select ao.apply_retention(${Math.floor(retentionSeconds)}::integer, ${batch}::integer) as deleted`;
  return row.deleted;
}

/** Repeats batches until one deletes nothing; returns the totals. */
export async function applyRetentionFully(db: Db, retentionSeconds: number, batch = 5000): Promise<RetentionBatch> {
  const total: RetentionBatch = { events: 0, jobs: 0, idempotencyKeys: 0, checks: 0 };
  for (;;) {
    const done = await applyRetention(db, retentionSeconds, batch);
    total.events += done.events;
    total.jobs += done.jobs;
    total.idempotencyKeys += done.idempotencyKeys;
    total.checks += done.checks;
    if (done.events + done.jobs + done.idempotencyKeys + done.checks === 0) return total;
  }
}

/** The position at or below which retention deleted every event ("0" when it never ran). */
export async function changeLogFloor(db: Db): Promise<{ txId: bigint; id: bigint }> {
  const [row] = await db<[{ tx_id: string; id: string }]>`select tx_id::text, id::text from ao.change_log_floor`;
  return { txId: BigInt(row.tx_id), id: BigInt(row.id) };
}
