import type { Pool } from '../core/db/connect.js';
import { Session } from '../core/domain.js';
import { removeWorktree } from './workspace/worktree.js';

/**
 * Removes a provisional session (worktree, then row) unless it has become a real session. The
 * row stays locked while the worktree goes, so a claim cannot activate it halfway: that claim
 * waits, then finds no session. Skips a session another remover holds.
 */
export async function removeProvisionalSession(db: Pool, sessionId: string): Promise<'removed' | 'not-provisional'> {
  return db.begin(async (tx) => {
    const [row] = await tx<[{ session: unknown; checkout: string | null }?]>`
      select ao.session_json(s) as session, p.path as checkout
      from ao.sessions s left join ao.projects p on p.id = s.project_id
      where s.id = ${sessionId} and s.state = 'provisional'
      for update of s skip locked`;
    if (!row) return 'not-provisional';
    const session = Session.parse(row.session);
    if (session.workspacePath && row.checkout) {
      await removeWorktree({
        checkout: row.checkout,
        path: session.workspacePath,
        // nothing of value can be in a worktree whose session never started: its claim failed
        force: true,
        ...(session.branch === `ao/${session.id}/root` ? { deleteBranch: session.branch } : {}),
      });
    }
    await tx`delete from ao.sessions where id = ${sessionId}`;
    return 'removed';
  });
}
