import type { Db } from '../db/connect.js';
import { Session, type SessionKind, type SessionState } from '../domain.js';
import { AoError } from '../errors.js';
import { CREATED_KEY_FORMAT, keysetPage, parseKeysetCursor, type KeyedRow } from './keyset-cursor.js';

export interface NewSession {
  projectId: string;
  kind: SessionKind;
  /** default `ao/<session-id>/root` */
  branch: string | null;
  /** the project's host: its worker makes the worktree (recordWorktreeIntent names it first) */
  host: string;
  /**
   * Every session is born provisional, with this lease: if the worktree is never made, or its
   * maker dies half-way, the lease runs out and the host's janitor removes whatever of the
   * worktree and branch was made, and the row.
   */
  leaseSeconds: number;
}

/**
 * Allocates `<project>-<n>` from the project's counter and inserts the session, provisional,
 * with its branch; the worktree's path is its host's to name (recordWorktreeIntent).
 */
export async function insertSession(db: Db, session: NewSession): Promise<Session> {
  const [row] = await db<[{ json: unknown }?]>`
    with n as (
      update ao.projects set session_seq = session_seq + 1
      where id = ${session.projectId} and archived_at is null
      returning id, session_seq, id || '-' || session_seq as session_id
    )
    insert into ao.sessions as s (id, project_id, num, kind, state, branch, workspace_path, host, lease_expires_at)
    select n.session_id, n.id, n.session_seq, ${session.kind}, 'provisional',
      coalesce(${session.branch}, 'ao/' || n.session_id || '/root'), '', ${session.host},
      now() + make_interval(secs => ${session.leaseSeconds})
    from n
    returning ao.session_json(s) as json`;
  if (!row) {
    throw new AoError('PROJECT_NOT_FOUND', `project ${session.projectId} does not exist or is archived`, {
      projectId: session.projectId,
    });
  }
  return Session.parse(row.json);
}

export interface WorktreeIntent {
  path: string;
  branch: string;
  /** the project's checkout and default branch, where the worktree comes from */
  checkout: string;
  defaultBranch: string;
}

/**
 * On the host, before git runs: a provisional session whose lease still runs records where its
 * worktree goes (`<worktreesRoot>/<project>/<session>`), so a crash from here on leaves a path the
 * janitor removes. Null when the session is gone, real already, or expired (its creator gave up).
 * Recording the same path again (a retried creation) answers it again.
 */
export async function recordWorktreeIntent(db: Db, sessionId: string, worktreesRoot: string): Promise<WorktreeIntent | null> {
  const [row] = await db<[WorktreeIntent?]>`
    update ao.sessions s set workspace_path = ${worktreesRoot} || '/' || s.project_id || '/' || s.id, updated_at = now()
    from ao.projects p
    where s.id = ${sessionId} and p.id = s.project_id and s.state = 'provisional' and s.lease_expires_at > now()
      and s.workspace_path in ('', ${worktreesRoot} || '/' || s.project_id || '/' || s.id)
    returning s.workspace_path as path, s.branch, p.path as checkout, p.default_branch as "defaultBranch"`;
  return row ?? null;
}

/** The worktree exists: a session that was not asked to be provisional becomes active. */
export async function finishSessionCreation(db: Db, id: string, keepProvisional: boolean): Promise<Session> {
  const [row] = await db<[{ json: unknown }?]>`
    update ao.sessions as s set state = 'active', lease_expires_at = null, updated_at = now()
    where id = ${id} and state = 'provisional' and not ${keepProvisional}
    returning ao.session_json(s) as json`;
  if (row) return Session.parse(row.json);
  return requireSession(db, id);
}

export async function getSession(db: Db, id: string): Promise<Session | null> {
  const [row] = await db<[{ json: unknown }?]>`
    select ao.session_json(s) as json from ao.sessions s where s.id = ${id}`;
  return row ? Session.parse(row.json) : null;
}

export async function requireSession(db: Db, id: string): Promise<Session> {
  const session = await getSession(db, id);
  if (!session) throw sessionNotFound(id);
  return session;
}

export interface SessionFilter {
  projectId?: string | undefined;
  state?: SessionState | undefined;
}

export interface SessionPageRequest {
  /** a page's nextCursor; absent: from the first session */
  cursor?: string | undefined;
  /** sessions per page (the API allows 1..1000) */
  limit: number;
}

export interface SessionPage {
  sessions: Session[];
  /** pass back as `cursor` for the next page; null: this was the last one */
  nextCursor: string | null;
}

/**
 * One page of sessions in creation order (created_at, then id: the order of the index
 * sessions_created), keyset-paged (keyset-cursor.ts).
 */
export async function listSessions(db: Db, filter: SessionFilter, page: SessionPageRequest): Promise<SessionPage> {
  const after = page.cursor === undefined ? null : parseKeysetCursor(page.cursor);
  const rows = await db<Array<{ json: unknown } & KeyedRow>>`
    select ao.session_json(s) as json,
      to_char(s.created_at at time zone 'UTC', ${CREATED_KEY_FORMAT}) as created_key, s.id
    from ao.sessions s
    where (${filter.projectId ?? null}::text is null or s.project_id = ${filter.projectId ?? null})
      and (${filter.state ?? null}::text is null or s.state = ${filter.state ?? null})
      ${after ? db`and (s.created_at, s.id) > (${after.createdAt}::text::timestamptz, ${after.id}::text)` : db``}
    order by s.created_at, s.id
    limit ${page.limit + 1}`;
  const { items, nextCursor } = keysetPage(rows, page.limit, (row) => Session.parse(row.json));
  return { sessions: items, nextCursor };
}

export async function setSessionState(db: Db, id: string, state: SessionState): Promise<Session> {
  const [row] = await db<[{ json: unknown }?]>`
    update ao.sessions as s
    set state = ${state}, updated_at = now(),
      lease_expires_at = case when ${state} = 'provisional' then s.lease_expires_at end
    where id = ${id}
    returning ao.session_json(s) as json`;
  if (!row) throw sessionNotFound(id);
  return Session.parse(row.json);
}

/** Deletes the row (its PRs go with it); false when there was none. */
/** A provisional session whose worktree was never begun (no path recorded): nothing on disk to remove. */
export async function deleteUnmadeSession(db: Db, id: string): Promise<void> {
  await db`delete from ao.sessions where id = ${id} and state = 'provisional' and workspace_path = ''`;
}

export async function deleteSession(db: Db, id: string): Promise<boolean> {
  const rows = await db`delete from ao.sessions where id = ${id} returning id`;
  return rows.length > 0;
}

export function sessionNotFound(id: string): AoError {
  return new AoError('SESSION_NOT_FOUND', `session ${id} does not exist`, { sessionId: id });
}

/** Provisional sessions of this host whose lease has run out (the janitor's input). */
export async function listExpiredProvisionalSessions(db: Db, host: string, limit: number): Promise<string[]> {
  const rows = await db<Array<{ id: string }>>`
    select id from ao.sessions
    where state = 'provisional' and lease_expires_at < now() and host = ${host}
    order by lease_expires_at
    limit ${limit}`;
  return rows.map((r) => r.id);
}
