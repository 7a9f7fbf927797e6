import type { Db } from '../db/connect.js';
import type { PullRequest } from '../domain.js';
import { sessionNotFound } from './sessions.js';

/** A session's PRs in SPEC §3.5 order (open before closed, most recently updated first). */
export async function listSessionPrs(db: Db, sessionId: string): Promise<{ sessionId: string; prs: PullRequest[] }> {
  const [row] = await db<[{ prs: PullRequest[] }?]>`
    select ao.session_prs_json(s.id) as prs from ao.sessions s where s.id = ${sessionId}`;
  if (!row) throw sessionNotFound(sessionId);
  return { sessionId, prs: row.prs };
}
