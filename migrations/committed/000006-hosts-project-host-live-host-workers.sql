--! Previous: sha1:af0bb8b6c3addfb2ffb9fb12da8eab64d36d0cc5
--! Hash: sha1:4f6b96663f7060180ddfae8a92896f8859dfc335
--! Message: hosts: project host, live host workers

-- Hosts (SPEC §2, issue 13). A project's checkout is on one host's disk, like its sessions'
-- worktrees: `projects.host` names it (the host of the API that registered it), and a session
-- belongs to its project's host. Projects registered before hosts were recorded take the host of
-- their newest session; a project with none keeps '' (read as the API's own host).
alter table ao.projects add column if not exists host text not null default '';
update ao.projects p set host = s.host
from (select distinct on (project_id) project_id, host from ao.sessions where host <> '' order by project_id, created_at desc) s
where s.project_id = p.id and p.host = '';

-- Live workers, per host: each worker process upserts its row every few seconds and marks it
-- stopped when it stops (a dead one just goes stale). A host whose rows are all stale or stopped
-- has no live worker: its git work waits (and the
-- API's synchronous routes answer HOST_UNAVAILABLE when they give up). Read by GET /status too.
create table if not exists ao.host_workers (
  worker_id text primary key,
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  stopped_at timestamptz
);
create index if not exists host_workers_host on ao.host_workers (host, last_seen_at);
