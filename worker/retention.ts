import type { Pool } from '../core/db/connect.js';
import { applyRetentionFully, type RetentionBatch } from '../core/store/retention.js';
import { every } from './every.js';

/**
 * Deletes what is older than the retention (AO_RETENTION_DAYS) on an interval. Every worker runs
 * it; concurrent runs only share the work (each batch is one short transaction).
 */
export function startRetention(options: {
  db: Pool;
  retentionSeconds: number;
  intervalMs: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}): { runNow(): Promise<RetentionBatch>; stop(): Promise<void> } {
  const loop = every(
    options.intervalMs,
    async () => {
      const deleted = await applyRetentionFully(options.db, options.retentionSeconds);
      if (deleted.events + deleted.jobs + deleted.idempotencyKeys + deleted.checks > 0) options.log('retention deleted old records', { ...deleted });
      return deleted;
    },
    (err) => options.log('retention failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  return { runNow: loop.now, stop: loop.stop };
}
