import type { Pool } from '../core/db/connect.js';
import { listExpiredProvisionalSessions } from '../core/store/sessions.js';
import { every } from './every.js';
import { removeProvisionalSession } from './remove-provisional-session.js';

/**
 * Removes provisional sessions whose lease ran out before a claim activated them (a spawn whose
 * CLI died before or while claiming). Worktrees are on one host's disk, so each host's workers
 * clean the sessions of that host (by host id, never by the machine's hostname).
 */
export function startJanitor(options: {
  db: Pool;
  hostId: string;
  intervalMs: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}): { sweepNow(): Promise<number>; stop(): Promise<void> } {
  async function sweep(): Promise<number> {
    let removed = 0;
    for (const id of await listExpiredProvisionalSessions(options.db, options.hostId, 50)) {
      try {
        if ((await removeProvisionalSession(options.db, id)) === 'removed') {
          removed++;
          options.log('janitor removed a provisional session whose lease expired', { sessionId: id });
        }
      } catch (err) {
        options.log('janitor could not remove a provisional session', { sessionId: id, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return removed;
  }
  const loop = every(options.intervalMs, sweep, (err) =>
    options.log('janitor failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  return { sweepNow: loop.now, stop: loop.stop };
}
