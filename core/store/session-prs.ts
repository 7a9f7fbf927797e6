import type { Db } from '../db/connect.js';
import { sessionNotFound } from './sessions.js';

/**
 * A session's PRs in SPEC §3.5 order (open before closed, most recently updated first), as the
 * JSON text of `{sessionId, prs}`: assembled by Postgres from each PR's stored document and sent
 * on unparsed, so the read costs a copy however many PRs the session owns.
 */
export async function listSessionPrsJson(db: Db, sessionId: string): Promise<string> {
  const [row] = await db<[{ prs: string }?]>`
    select ao.session_prs_text(s.id) as prs from ao.sessions s where s.id = ${sessionId}`;
  if (!row) throw sessionNotFound(sessionId);
  return `{"sessionId":${JSON.stringify(sessionId)},"prs":${row.prs}}`;
}
