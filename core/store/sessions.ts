import type { Db } from '../db/connect.js';
import { Session, type SessionKind, type SessionState } from '../domain.js';
import { AoError } from '../errors.js';

export interface NewSession {
  projectId: string;
  kind: SessionKind;
  /** default `ao/<session-id>/root` */
  branch: string | null;
  host: string;
  /** a provisional session lives until its lease expires unless it is activated */
  leaseSeconds: number | null;
}

/** Allocates `<project>-<n>` from the project's counter and inserts the session (no workspace yet). */
export async function insertSession(db: Db, session: NewSession): Promise<Session> {
  const provisional = session.leaseSeconds !== null;
  const [row] = await db<[{ json: unknown }?]>`
    with n as (
      update ao.projects set session_seq = session_seq + 1
      where id = ${session.projectId}
      returning id, session_seq, id || '-' || session_seq as session_id
    )
    insert into ao.sessions as s (id, project_id, num, kind, state, branch, host, lease_expires_at)
    select n.session_id, n.id, n.session_seq, ${session.kind},
      ${provisional ? 'provisional' : 'active'},
      coalesce(${session.branch}, 'ao/' || n.session_id || '/root'), ${session.host},
      case when ${provisional} then now() + make_interval(secs => ${session.leaseSeconds ?? 0}) end
    from n
    returning ao.session_json(s) as json`;
  if (!row) {
    throw new AoError('PROJECT_NOT_FOUND', `project ${session.projectId} does not exist`, {
      projectId: session.projectId,
    });
  }
  return Session.parse(row.json);
}

export async function setSessionWorkspace(db: Db, id: string, workspacePath: string, branch: string): Promise<Session> {
  const [row] = await db<[{ json: unknown }?]>`
    update ao.sessions as s set workspace_path = ${workspacePath}, branch = ${branch}, updated_at = now()
    where id = ${id}
    returning ao.session_json(s) as json`;
  if (!row) throw sessionNotFound(id);
  return Session.parse(row.json);
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

export async function listSessions(db: Db, filter: SessionFilter = {}): Promise<Session[]> {
  const rows = await db<Array<{ json: unknown }>>`
    select ao.session_json(s) as json from ao.sessions s
    where (${filter.projectId ?? null}::text is null or s.project_id = ${filter.projectId ?? null})
      and (${filter.state ?? null}::text is null or s.state = ${filter.state ?? null})
    order by s.created_at, s.project_id, s.num`;
  return rows.map((row) => Session.parse(row.json));
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
