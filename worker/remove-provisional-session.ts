import type { Pool } from '../core/db/connect.js';
import { Session } from '../core/domain.js';
import { removeWorktree } from './workspace/worktree.js';

/**
 * Removes a provisional session (worktree, then row) unless it has become a real session.
 * 'absent': there was no such session any more (another remover, e.g. the janitor, finished
 * first, or it was deleted); 'not-provisional': it exists and is a real session now.
 *
 * No transaction stays open while git runs (an open transaction holds back every event reader).
 * Instead the removal is made irrevocable first, in one short statement: the session's lease is
 * ended, after which no claim can activate it (ao.claim_pr and the API refuse an expired
 * provisional session). Then the worktree goes, then the row. A crash anywhere in between
 * leaves an expired provisional session, which the janitor finishes removing.
 */
export async function removeProvisionalSession(db: Pool, sessionId: string): Promise<'removed' | 'absent' | 'not-provisional'> {
  const [row] = await db<[{ session: unknown; checkout: string | null }?]>`
    update ao.sessions s set lease_expires_at = least(s.lease_expires_at, now())
    from ao.sessions s0 left join ao.projects p on p.id = s0.project_id
    where s.id = ${sessionId} and s0.id = s.id and s.state = 'provisional'
    returning ao.session_json(s) as session, p.path as checkout`;
  if (!row) {
    const [still] = await db`select 1 from ao.sessions where id = ${sessionId}`;
    return still ? 'not-provisional' : 'absent';
  }
  const session = Session.parse(row.session);
  if (session.workspacePath && row.checkout) {
    await removeWorktree({
      checkout: row.checkout,
      path: session.workspacePath,
      // nothing of value can be in a worktree whose session never started: its claim failed
      force: true,
      // the branch ao made for it, wherever a checkout moved the worktree since
      deleteBranch: `ao/${session.id}/root`,
    });
  }
  await db`delete from ao.sessions where id = ${sessionId} and state = 'provisional' and lease_expires_at <= now()`;
  return 'removed';
}
