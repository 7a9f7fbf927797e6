import postgres from 'postgres';
import type { Db } from '../db/connect.js';
import { Project } from '../domain.js';
import { AoError } from '../errors.js';

export interface NewProject {
  id: string;
  path: string;
  repoUrl: string;
  defaultBranch: string;
  /** the host whose disk holds the checkout (the registering API's host) */
  host: string;
}

export async function insertProject(db: Db, project: NewProject): Promise<Project> {
  try {
    const [row] = await db<[{ json: unknown }]>`
      insert into ao.projects as p (id, path, repo_url, default_branch, host)
      values (${project.id}, ${project.path}, ${project.repoUrl}, ${project.defaultBranch}, ${project.host})
      returning ao.project_json(p) as json`;
    return Project.parse(row.json);
  } catch (err) {
    if (err instanceof postgres.PostgresError && err.code === '23505') {
      throw new AoError('PROJECT_EXISTS', `project ${project.id} already exists`, { projectId: project.id });
    }
    throw err;
  }
}

export async function getProject(db: Db, id: string): Promise<Project | null> {
  const [row] = await db<[{ json: unknown }?]>`
    select ao.project_json(p) as json from ao.projects p where p.id = ${id}`;
  return row ? Project.parse(row.json) : null;
}

export async function requireProject(db: Db, id: string): Promise<Project> {
  const project = await getProject(db, id);
  if (!project) throw new AoError('PROJECT_NOT_FOUND', `project ${id} does not exist`, { projectId: id });
  return project;
}

export async function listProjects(db: Db): Promise<Project[]> {
  const rows = await db<Array<{ json: unknown }>>`
    select ao.project_json(p) as json from ao.projects p order by p.created_at, p.id`;
  return rows.map((row) => Project.parse(row.json));
}

/** Where a project's checkout is: its host and its path there; null when the project is gone. */
export async function getProjectPlace(db: Db, id: string): Promise<{ host: string; path: string } | null> {
  const [row] = await db<[{ host: string; path: string }?]>`select host, path from ao.projects where id = ${id}`;
  return row ?? null;
}

/**
 * Archives a project (`DELETE /api/v1/projects/{id}`): it stays listed with its archivedAt, and no
 * new session can be made in it. Refused with PROJECT_HAS_SESSIONS while sessions that are not
 * terminated exist, unless forced (they go on as they are). Archiving an archived project is a no-op.
 */
export async function archiveProject(db: Db, id: string, force: boolean): Promise<Project> {
  const [row] = await db<[{ json: unknown; live: number; archived: boolean }?]>`
    with target as (select id from ao.projects where id = ${id}),
    live as (select count(*)::int as n from ao.sessions where project_id = ${id} and state <> 'terminated'),
    archived as (
      update ao.projects p set archived_at = coalesce(p.archived_at, now())
      from target, live
      where p.id = target.id and (${force} or live.n = 0)
      returning p.*
    )
    select coalesce((select ao.project_json(a) from archived a), (select ao.project_json(p) from ao.projects p where p.id = ${id})) as json,
      (select n from live) as live, exists (select 1 from archived) as archived
    from target`;
  if (!row) throw new AoError('PROJECT_NOT_FOUND', `project ${id} does not exist`, { projectId: id });
  if (!row.archived) {
    throw new AoError('PROJECT_HAS_SESSIONS', `project ${id} has ${row.live} live session(s): kill them first, or archive it anyway with force`, {
      projectId: id,
      liveSessions: row.live,
    });
  }
  return Project.parse(row.json);
}
