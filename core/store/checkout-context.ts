import type { Db } from '../db/connect.js';
import type { SessionState } from '../domain.js';

export interface CheckoutContext {
  /** `branch`: the branch the row records, which a run that died after its switch left behind the worktree */
  session: { id: string; state: SessionState; workspacePath: string; host: string; branch: string };
  /** the project's checkout (the worktrees' repository); null when the project is gone */
  checkout: string | null;
  /** the project's repository URL ('' when unknown) */
  repoUrl: string;
  /** the PR's owner before this claim; null for a PR no session owns */
  owner: { sessionId: string; state: SessionState } | null;
}

/** What a claim's checkout needs to know before it touches a worktree, in one round trip. */
export async function getCheckoutContext(db: Db, sessionId: string, prUrl: string): Promise<CheckoutContext | null> {
  const [row] = await db<
    [{ id: string; state: SessionState; workspace_path: string; host: string; branch: string; checkout: string | null; repo_url: string | null; owner_id: string | null; owner_state: SessionState | null }?]
  >`
    select s.id, s.state, s.workspace_path, s.host, s.branch, p.path as checkout, p.repo_url, o.id as owner_id, o.state as owner_state
    from ao.sessions s
    left join ao.projects p on p.id = s.project_id
    left join ao.pull_requests pr on pr.url = ${prUrl.toLowerCase()}
    left join ao.sessions o on o.id = pr.session_id
    where s.id = ${sessionId}`;
  if (!row) return null;
  return {
    session: { id: row.id, state: row.state, workspacePath: row.workspace_path, host: row.host, branch: row.branch },
    checkout: row.checkout,
    repoUrl: row.repo_url ?? '',
    owner: row.owner_id && row.owner_state ? { sessionId: row.owner_id, state: row.owner_state } : null,
  };
}

/** The session whose worktree is at `path` (on `host`), if any. */
export async function getWorktreeSession(db: Db, host: string, path: string): Promise<{ id: string; state: SessionState } | null> {
  const [row] = await db<[{ id: string; state: SessionState }?]>`
    select id, state from ao.sessions where host = ${host} and workspace_path = ${path} limit 1`;
  return row ?? null;
}
