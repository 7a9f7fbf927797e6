import type { Db } from '../db/connect.js';
import { Session } from '../domain.js';

/** A session and its project's origin, in one round trip, for the claim's synchronous checks. */
export async function getClaimant(
  db: Db,
  sessionId: string,
): Promise<{ session: Session; project: { id: string; repoUrl: string } | null } | null> {
  const [row] = await db<[{ session: unknown; project_id: string | null; repo_url: string | null }?]>`
    select ao.session_json(s) as session, p.id as project_id, p.repo_url
    from ao.sessions s left join ao.projects p on p.id = s.project_id and p.archived_at is null
    where s.id = ${sessionId}`;
  if (!row) return null;
  return {
    session: Session.parse(row.session),
    project: row.project_id ? { id: row.project_id, repoUrl: row.repo_url ?? '' } : null,
  };
}
