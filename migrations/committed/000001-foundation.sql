--! Previous: -
--! Hash: sha1:5601c6d3afc840d2adbc586484214e78aeb50d43
--! Message: foundation

-- ao foundation: projects, sessions, pull requests and their facts, jobs, idempotency keys,
-- the change_log and the triggers that fill it, and the claim transaction.
--
-- Conventions
-- * Everything lives in schema `ao`; every reference is schema-qualified.
-- * `ao.<entity>_json(row)` builds the API shape of a row (camelCase, ISO 8601 UTC times). The
--   HTTP reads and the CDC `after`/`before` images use the same builders, so an event's `after`
--   is exactly what `GET` would have returned at that moment.
-- * CDC triggers are statement-level over transition tables: one INSERT … SELECT per statement,
--   whatever the number of rows, and no lock shared by writers (ids come from a cached sequence;
--   readers order by (tx_id, id), see ao.change_log).

create schema if not exists ao;

-- ------------------------------------------------------------------------------------------------
-- helpers

-- Helpers are SQL functions that Postgres inlines into the calling query when their body is a
-- single expression; a body with a subquery cannot be inlined and would be planned again on
-- every call, so those are plpgsql, whose plans are cached per connection.

create function ao.iso(ts timestamptz) returns text
language sql stable parallel safe
as $$ select to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- The old values of the keys whose values differ between two images; null when nothing changed.
create function ao.changed_columns(old_image jsonb, new_image jsonb, ignored text[] default '{}')
returns jsonb
language plpgsql immutable parallel safe
as $$
begin
  return (select jsonb_object_agg(o.key, o.value)
          from jsonb_each(old_image) o
          where o.key <> all (ignored) and o.value is distinct from (new_image -> o.key));
end
$$;

-- The job that caused the current transaction's writes, set by writers with
-- set_config('ao.job_id', <id>, true); null for writes no job caused.
create function ao.causation_job_id() returns text
language sql stable parallel safe
as $$ select nullif(current_setting('ao.job_id', true), '') $$;

-- ------------------------------------------------------------------------------------------------
-- tables

create table ao.projects (
  id text primary key
    constraint projects_id_format check (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' and position('..' in id) = 0),
  path text not null,
  repo_url text not null default '',
  default_branch text not null default 'main',
  -- per-project counter behind session ids `<project>-<n>`
  session_seq integer not null default 0,
  created_at timestamptz not null default now(),
  archived_at timestamptz
);

create table ao.sessions (
  id text primary key,
  project_id text not null references ao.projects (id),
  num integer not null,
  kind text not null default 'worker' check (kind in ('worker', 'orchestrator')),
  state text not null default 'active'
    check (state in ('provisional', 'active', 'idle', 'exited', 'terminated')),
  branch text not null default '',
  workspace_path text not null default '',
  host text not null default '',
  -- a provisional session (spawn with --claim-pr) is removed by the janitor once this passes
  lease_expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, num),
  -- target of pull_requests (session_id, project_id): a PR's project is its owner's project
  unique (id, project_id),
  constraint sessions_provisional_has_lease check (state <> 'provisional' or lease_expires_at is not null)
);
create index sessions_project_state on ao.sessions (project_id, state);
create index sessions_lease on ao.sessions (lease_expires_at) where state = 'provisional';

create table ao.pull_requests (
  -- identity: the canonical URL with owner/repo lower-cased (GitHub names are case-insensitive)
  url text primary key,
  owner text not null,
  repo text not null,
  number integer not null check (number > 0),
  session_id text not null,
  project_id text not null,
  title text not null default '',
  author text not null default '',
  state text not null check (state in ('draft', 'open', 'merged', 'closed')),
  ci text not null default 'unknown' check (ci in ('unknown', 'pending', 'passing', 'failing')),
  review text not null default 'none'
    check (review in ('none', 'approved', 'changes_requested', 'review_required')),
  mergeability text not null default 'unknown'
    check (mergeability in ('unknown', 'mergeable', 'conflicting', 'blocked', 'unstable')),
  is_draft boolean not null default false,
  head_branch text not null default '',
  head_sha text not null default '',
  base_branch text not null default '',
  base_sha text not null default '',
  head_repository text not null default '',
  is_cross_repository boolean not null default false,
  additions integer not null default 0,
  deletions integer not null default 0,
  changed_files integer not null default 0,
  provider_created_at timestamptz,
  provider_updated_at timestamptz,
  merged_at timestamptz,
  closed_at timestamptz,
  -- when the snapshot these facts come from was fetched; older snapshots are refused
  observed_at timestamptz not null,
  created_at timestamptz not null default now(),
  constraint pull_requests_identity
    check (url = 'https://github.com/' || lower(owner) || '/' || lower(repo) || '/pull/' || number),
  foreign key (session_id, project_id) references ao.sessions (id, project_id) on delete cascade
);
create index pull_requests_session on ao.pull_requests (session_id);
create index pull_requests_project on ao.pull_requests (project_id);

create table ao.pr_checks (
  pr_url text not null references ao.pull_requests (url) on delete cascade,
  name text not null,
  sha text not null,
  status text not null default 'unknown'
    check (status in ('unknown', 'queued', 'in_progress', 'passed', 'failed', 'skipped', 'cancelled')),
  conclusion text not null default '',
  url text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (pr_url, sha, name)
);

create table ao.pr_review_threads (
  pr_url text not null references ao.pull_requests (url) on delete cascade,
  thread_id text not null,
  path text not null default '',
  line integer,
  is_resolved boolean not null default false,
  is_bot boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (pr_url, thread_id)
);

create table ao.pr_review_comments (
  pr_url text not null,
  thread_id text not null,
  comment_id text not null,
  author text not null default '',
  body text not null default '',
  url text not null default '',
  is_bot boolean not null default false,
  -- GitHub's creation time of the comment
  created_at timestamptz,
  primary key (pr_url, comment_id),
  foreign key (pr_url, thread_id) references ao.pr_review_threads (pr_url, thread_id) on delete cascade
);
create index pr_review_comments_thread on ao.pr_review_comments (pr_url, thread_id);

create table ao.jobs (
  -- `job_<uuid>`: BullMQ job ids must not contain ':' nor be all digits
  id text primary key check (id ~ '^[A-Za-z0-9_-]+$' and id !~ '^[0-9]+$'),
  kind text not null check (kind in ('claim', 'spawn_claim', 'reclaim_batch', 'reclaim_item')),
  state text not null default 'queued'
    check (state in ('queued', 'running', 'succeeded', 'failed', 'compensating', 'compensated', 'compensation_failed')),
  -- no foreign keys: a job's record outlives the session it was about
  session_id text,
  project_id text,
  parent_id text references ao.jobs (id) on delete cascade,
  request jsonb not null,
  result jsonb,
  error jsonb,
  attempts integer not null default 0,
  progress jsonb,
  step text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
create index jobs_unfinished on ao.jobs (created_at) where state in ('queued', 'running', 'compensating');
create index jobs_session on ao.jobs (session_id) where session_id is not null;
create index jobs_parent on ao.jobs (parent_id) where parent_id is not null;

create table ao.idempotency_keys (
  -- what the key is scoped to, e.g. `claim:<session-id>`
  scope text not null,
  key text not null,
  request_hash text not null,
  job_id text not null references ao.jobs (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (scope, key)
);

-- The CDC log. Ids come from a sequence, but a plain `id > cursor` is not gap-free: a
-- transaction can take an id, commit after a reader has moved past it, and be skipped. Readers
-- therefore page by (tx_id, id) and stop below a horizon that no running transaction of this
-- database is under (ao.read_change_log).
create table ao.change_log (
  tx_id bigint not null default (pg_current_xact_id()::text::bigint),
  id bigint generated always as identity (cache 32),
  op text not null check (op in ('insert', 'update', 'delete')),
  type text not null,
  entity text not null check (entity in ('session', 'pr', 'check', 'review_thread', 'job')),
  entity_key text not null,
  project_id text,
  session_id text,
  job_id text,
  before jsonb,
  after jsonb,
  created_at timestamptz not null default now(),
  primary key (tx_id, id)
);

-- The highest transaction id below which every transaction of this database has finished:
-- events with tx_id < horizon are final. Only this database's transactions count (a long
-- transaction elsewhere on the server does not hold readers back). The order of the two reads
-- makes it safe: any xid assigned after the snapshot is taken is >= its xmax, and any xid
-- assigned before it that is still running shows in pg_stat_activity when that is read next.
create function ao.change_log_horizon() returns bigint
language plpgsql volatile
as $$
declare
  v_xmax bigint := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
  v_epoch bigint := (v_xmax >> 32) << 32;
  v_oldest bigint;
begin
  -- pg_stat_activity is cached for the rest of a transaction once read; a stale copy could miss
  -- a transaction that started since.
  perform pg_stat_clear_snapshot();
  -- backend_xid is a 32-bit xid: widen it with the epoch of xmax, taking the nearest value.
  select min(case
      when w.xid64 - v_xmax > 2147483648 then w.xid64 - 4294967296
      when v_xmax - w.xid64 > 2147483648 then w.xid64 + 4294967296
      else w.xid64 end)
    into v_oldest
  from (
    select v_epoch | a.backend_xid::text::bigint as xid64
    from pg_stat_activity a
    where a.datname = current_database() and a.backend_xid is not null
    union all
    select v_epoch | x.transaction::text::bigint
    from pg_prepared_xacts x
    where x.database = current_database()
  ) w;
  return least(v_xmax, coalesce(v_oldest, v_xmax));
end
$$;

-- Events after (p_after_tx, p_after_id) below the horizon, in (tx_id, id) order. The horizon is
-- computed by an earlier statement than the one reading rows, as its proof requires.
create function ao.read_change_log(p_after_tx bigint, p_after_id bigint, p_limit integer)
returns setof ao.change_log
language plpgsql volatile
as $$
declare
  v_horizon bigint;
begin
  -- Under repeatable read the rows would be read from a snapshot older than the horizon.
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'ao.read_change_log needs read committed isolation, not %',
      current_setting('transaction_isolation') using errcode = '25001';
  end if;
  v_horizon := ao.change_log_horizon();
  return query
    select * from ao.change_log c
    where (c.tx_id, c.id) > (p_after_tx, p_after_id) and c.tx_id < v_horizon
    order by c.tx_id, c.id
    limit p_limit;
end
$$;

-- ------------------------------------------------------------------------------------------------
-- API shapes (SPEC §9)

create function ao.project_json(p ao.projects) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object(
    'id', p.id, 'path', p.path, 'repoUrl', p.repo_url, 'defaultBranch', p.default_branch,
    'createdAt', ao.iso(p.created_at), 'archivedAt', ao.iso(p.archived_at))
$$;

create function ao.session_json(s ao.sessions) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object(
    'id', s.id, 'projectId', s.project_id, 'kind', s.kind, 'state', s.state, 'branch', s.branch,
    'workspacePath', s.workspace_path, 'host', s.host, 'createdAt', ao.iso(s.created_at),
    'updatedAt', ao.iso(s.updated_at), 'leaseExpiresAt', ao.iso(s.lease_expires_at))
$$;

-- The PR row alone (what CDC carries); ao.pr_full_json adds checks and threads.
create function ao.pr_json(p ao.pull_requests) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object(
    'url', 'https://github.com/' || p.owner || '/' || p.repo || '/pull/' || p.number,
    'owner', p.owner, 'repo', p.repo, 'number', p.number, 'title', p.title, 'author', p.author,
    'state', p.state, 'ci', p.ci, 'review', p.review, 'mergeability', p.mergeability,
    'isDraft', p.is_draft, 'headBranch', p.head_branch, 'headSha', p.head_sha,
    'baseBranch', p.base_branch, 'baseSha', p.base_sha, 'headRepository', p.head_repository,
    'isCrossRepository', p.is_cross_repository, 'additions', p.additions,
    'deletions', p.deletions, 'changedFiles', p.changed_files, 'sessionId', p.session_id,
    'providerCreatedAt', ao.iso(p.provider_created_at),
    'providerUpdatedAt', ao.iso(p.provider_updated_at),
    'mergedAt', ao.iso(p.merged_at), 'closedAt', ao.iso(p.closed_at),
    'observedAt', ao.iso(p.observed_at))
$$;

create function ao.check_json(c ao.pr_checks) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object('name', c.name, 'sha', c.sha, 'status', c.status,
    'conclusion', c.conclusion, 'url', c.url)
$$;

create function ao.thread_json(t ao.pr_review_threads) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object('id', t.thread_id, 'path', t.path, 'line', t.line,
    'isResolved', t.is_resolved, 'isBot', t.is_bot)
$$;

create function ao.comment_json(c ao.pr_review_comments) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object('id', c.comment_id, 'author', c.author, 'body', c.body, 'url', c.url,
    'isBot', c.is_bot, 'createdAt', ao.iso(c.created_at))
$$;

create function ao.pr_full_json(p ao.pull_requests) returns jsonb
language plpgsql stable parallel safe
as $$
begin
  return ao.pr_json(p) || jsonb_build_object(
    'checks', coalesce((
      select jsonb_agg(ao.check_json(c) order by c.name)
      from ao.pr_checks c where c.pr_url = p.url and c.sha = p.head_sha), '[]'::jsonb),
    'reviewThreads', coalesce((
      select jsonb_agg(ao.thread_json(t) || jsonb_build_object('comments', coalesce((
          select jsonb_agg(ao.comment_json(m) order by m.created_at nulls last, m.comment_id)
          from ao.pr_review_comments m where m.pr_url = t.pr_url and m.thread_id = t.thread_id),
        '[]'::jsonb)) order by t.created_at, t.thread_id)
      from ao.pr_review_threads t where t.pr_url = p.url), '[]'::jsonb));
end
$$;

-- A session's PRs in SPEC §3.5 order: `first_url` (the PR just claimed) first, then open and draft
-- before merged and closed, then the most recently updated on GitHub first.
create function ao.session_prs_json(p_session_id text, p_first_url text default null) returns jsonb
language plpgsql stable parallel safe
as $$
begin
  return (
    select coalesce(jsonb_agg(ao.pr_full_json(p) order by
        p.url is not distinct from p_first_url desc,
        p.state in ('merged', 'closed'),
        p.provider_updated_at desc nulls last,
        p.number desc), '[]'::jsonb)
    from ao.pull_requests p
    where p.session_id = p_session_id);
end
$$;

create function ao.job_json(j ao.jobs) returns jsonb
language sql stable parallel safe
as $$
  select jsonb_build_object(
    'id', j.id, 'kind', j.kind, 'state', j.state, 'sessionId', j.session_id,
    'request', j.request, 'result', j.result, 'error', j.error, 'attempts', j.attempts,
    'progress', j.progress, 'step', j.step, 'parentId', j.parent_id,
    'createdAt', ao.iso(j.created_at), 'updatedAt', ao.iso(j.updated_at),
    'finishedAt', ao.iso(j.finished_at))
$$;

-- ------------------------------------------------------------------------------------------------
-- CDC triggers: statement-level, one INSERT … SELECT per statement

create function ao.tg_sessions_cdc() returns trigger
language plpgsql volatile
as $$
begin
  if tg_op = 'INSERT' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, after)
    select 'insert', 'session_created', 'session', n.id, n.project_id, n.id, ao.causation_job_id(),
      ao.session_json(n)
    from new_rows n order by n.id;
  elsif tg_op = 'UPDATE' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before, after)
    select 'update', 'session_updated', 'session', n.id, n.project_id, n.id, ao.causation_job_id(),
      d.before, d.after
    from old_rows o
    join new_rows n on n.id = o.id
    cross join lateral (select ao.session_json(n) as after) a
    cross join lateral (
      select ao.changed_columns(ao.session_json(o), a.after, '{updatedAt}') as before, a.after) d
    where d.before is not null
    order by n.id;
  else
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'session_deleted', 'session', o.id, o.project_id, o.id, ao.causation_job_id(),
      ao.session_json(o)
    from old_rows o order by o.id;
  end if;
  return null;
end
$$;

create trigger _500_cdc_insert after insert on ao.sessions
  referencing new table as new_rows for each statement execute function ao.tg_sessions_cdc();
create trigger _500_cdc_update after update on ao.sessions
  referencing old table as old_rows new table as new_rows
  for each statement execute function ao.tg_sessions_cdc();
create trigger _500_cdc_delete after delete on ao.sessions
  referencing old table as old_rows for each statement execute function ao.tg_sessions_cdc();

-- An UPDATE that moves a PR writes pr_session_changed (before: the old owner) and, when facts
-- changed too, one pr_updated: both carry the complete new row, so no event ever shows new
-- ownership or review with old CI or mergeability. `observedAt` alone changing is not a change.
create function ao.tg_pull_requests_cdc() returns trigger
language plpgsql volatile
as $$
begin
  if tg_op = 'INSERT' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, after)
    select 'insert', 'pr_created', 'pr', n.url, n.project_id, n.session_id, ao.causation_job_id(),
      ao.pr_json(n)
    from new_rows n order by n.url;
  elsif tg_op = 'UPDATE' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before, after)
    select 'update', e.type, 'pr', n.url, n.project_id, n.session_id, ao.causation_job_id(),
      e.before, i.after
    from old_rows o
    join new_rows n on n.url = o.url
    cross join lateral (select ao.pr_json(o) as before, ao.pr_json(n) as after) i
    cross join lateral (values
      (1, 'pr_session_changed', ao.changed_columns(
        jsonb_build_object('sessionId', o.session_id, 'projectId', o.project_id),
        jsonb_build_object('sessionId', n.session_id, 'projectId', n.project_id))),
      (2, 'pr_updated', ao.changed_columns(i.before, i.after, '{sessionId,observedAt}'))
    ) e (ord, type, before)
    where e.before is not null
    order by n.url, e.ord;
  else
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'pr_deleted', 'pr', o.url, o.project_id, o.session_id, ao.causation_job_id(),
      ao.pr_json(o)
    from old_rows o order by o.url;
  end if;
  return null;
end
$$;

create trigger _500_cdc_insert after insert on ao.pull_requests
  referencing new table as new_rows for each statement execute function ao.tg_pull_requests_cdc();
create trigger _500_cdc_update after update on ao.pull_requests
  referencing old table as old_rows new table as new_rows
  for each statement execute function ao.tg_pull_requests_cdc();
create trigger _500_cdc_delete after delete on ao.pull_requests
  referencing old table as old_rows for each statement execute function ao.tg_pull_requests_cdc();

-- Check and thread events are filed under the PR's current owner. When the PR itself is being
-- deleted (cascade), the owner is gone and the event carries no session.
create function ao.tg_pr_checks_cdc() returns trigger
language plpgsql volatile
as $$
begin
  if tg_op = 'INSERT' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, after)
    select 'insert', 'pr_check_recorded', 'check', n.pr_url || '#' || n.sha || '/' || n.name,
      p.project_id, p.session_id, ao.causation_job_id(), ao.check_json(n) || jsonb_build_object('pr', n.pr_url)
    from new_rows n left join ao.pull_requests p on p.url = n.pr_url
    order by n.pr_url, n.sha, n.name;
  elsif tg_op = 'UPDATE' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before, after)
    select 'update', 'pr_check_recorded', 'check', n.pr_url || '#' || n.sha || '/' || n.name,
      p.project_id, p.session_id, ao.causation_job_id(), d.before, d.after
    from old_rows o
    join new_rows n on n.pr_url = o.pr_url and n.sha = o.sha and n.name = o.name
    cross join lateral (select ao.check_json(n) || jsonb_build_object('pr', n.pr_url) as after) a
    cross join lateral (select ao.changed_columns(ao.check_json(o), a.after) as before, a.after) d
    left join ao.pull_requests p on p.url = n.pr_url
    where d.before is not null
    order by n.pr_url, n.sha, n.name;
  else
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'pr_check_removed', 'check', o.pr_url || '#' || o.sha || '/' || o.name,
      p.project_id, p.session_id, ao.causation_job_id(), ao.check_json(o) || jsonb_build_object('pr', o.pr_url)
    from old_rows o left join ao.pull_requests p on p.url = o.pr_url
    order by o.pr_url, o.sha, o.name;
  end if;
  return null;
end
$$;

create trigger _500_cdc_insert after insert on ao.pr_checks
  referencing new table as new_rows for each statement execute function ao.tg_pr_checks_cdc();
create trigger _500_cdc_update after update on ao.pr_checks
  referencing old table as old_rows new table as new_rows
  for each statement execute function ao.tg_pr_checks_cdc();
create trigger _500_cdc_delete after delete on ao.pr_checks
  referencing old table as old_rows for each statement execute function ao.tg_pr_checks_cdc();

create function ao.tg_pr_review_threads_cdc() returns trigger
language plpgsql volatile
as $$
begin
  if tg_op = 'INSERT' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, after)
    select 'insert', 'pr_review_thread_added', 'review_thread', n.pr_url || '#' || n.thread_id,
      p.project_id, p.session_id, ao.causation_job_id(), ao.thread_json(n) || jsonb_build_object('pr', n.pr_url)
    from new_rows n left join ao.pull_requests p on p.url = n.pr_url
    order by n.pr_url, n.thread_id;
  elsif tg_op = 'UPDATE' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before, after)
    select 'update',
      case
        when n.is_resolved and not o.is_resolved then 'pr_review_thread_resolved'
        when o.is_resolved and not n.is_resolved then 'pr_review_thread_reopened'
        else 'pr_review_thread_updated'
      end,
      'review_thread', n.pr_url || '#' || n.thread_id,
      p.project_id, p.session_id, ao.causation_job_id(), d.before, d.after
    from old_rows o
    join new_rows n on n.pr_url = o.pr_url and n.thread_id = o.thread_id
    cross join lateral (select ao.thread_json(n) || jsonb_build_object('pr', n.pr_url) as after) a
    cross join lateral (select ao.changed_columns(ao.thread_json(o), a.after) as before, a.after) d
    left join ao.pull_requests p on p.url = n.pr_url
    where d.before is not null
    order by n.pr_url, n.thread_id;
  else
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'pr_review_thread_removed', 'review_thread', o.pr_url || '#' || o.thread_id,
      p.project_id, p.session_id, ao.causation_job_id(), ao.thread_json(o) || jsonb_build_object('pr', o.pr_url)
    from old_rows o left join ao.pull_requests p on p.url = o.pr_url
    order by o.pr_url, o.thread_id;
  end if;
  return null;
end
$$;

create trigger _500_cdc_insert after insert on ao.pr_review_threads
  referencing new table as new_rows for each statement execute function ao.tg_pr_review_threads_cdc();
create trigger _500_cdc_update after update on ao.pr_review_threads
  referencing old table as old_rows new table as new_rows
  for each statement execute function ao.tg_pr_review_threads_cdc();
create trigger _500_cdc_delete after delete on ao.pr_review_threads
  referencing old table as old_rows for each statement execute function ao.tg_pr_review_threads_cdc();

create function ao.tg_jobs_cdc() returns trigger
language plpgsql volatile
as $$
begin
  if tg_op = 'INSERT' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, after)
    select 'insert', 'job_created', 'job', n.id, n.project_id, n.session_id, n.id, ao.job_json(n)
    from new_rows n order by n.id;
  elsif tg_op = 'UPDATE' then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before, after)
    select 'update', 'job_updated', 'job', n.id, n.project_id, n.session_id, n.id, d.before, d.after
    from old_rows o
    join new_rows n on n.id = o.id
    cross join lateral (select ao.job_json(n) as after) a
    cross join lateral (
      select ao.changed_columns(ao.job_json(o), a.after, '{updatedAt}') as before, a.after) d
    where d.before is not null
    order by n.id;
  else
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'job_deleted', 'job', o.id, o.project_id, o.session_id, o.id, ao.job_json(o)
    from old_rows o order by o.id;
  end if;
  return null;
end
$$;

create trigger _500_cdc_insert after insert on ao.jobs
  referencing new table as new_rows for each statement execute function ao.tg_jobs_cdc();
create trigger _500_cdc_update after update on ao.jobs
  referencing old table as old_rows new table as new_rows
  for each statement execute function ao.tg_jobs_cdc();
create trigger _500_cdc_delete after delete on ao.jobs
  referencing old table as old_rows for each statement execute function ao.tg_jobs_cdc();

-- ------------------------------------------------------------------------------------------------
-- The claim transaction (SPEC §3.3), one round trip: `select ao.claim_pr(…)` in autocommit.
--
-- p_snapshot is a PrSnapshot (core/domain.ts), validated by the caller. Returns
--   {"ok": true, "result": ClaimResult, "previousOwner": text|null}
--   {"ok": false, "error": {"code", "message", "details"}}   -- nothing was written
-- A provisional claimant is activated (its lease cleared). When p_job_id names a job, its row
-- is marked succeeded with the result in the same transaction, and a job that already succeeded returns its stored result untouched: a job that
-- stalls and runs twice cannot claim twice nor rewrite the result of the first run.

create function ao.claim_error(p_code text, p_message text, p_details jsonb default null) returns jsonb
language sql stable parallel safe
as $$ select jsonb_build_object('ok', false,
  'error', jsonb_build_object('code', p_code, 'message', p_message, 'details', p_details)) $$;

create function ao.claim_pr(p_job_id text, p_session_id text, p_allow_takeover boolean, p_snapshot jsonb)
returns jsonb
language plpgsql volatile
as $$
declare
  v_session ao.sessions;
  v_url text;
  v_owner text;
  v_owner_state text;
  v_stored_observed_at timestamptz;
  v_observed_at timestamptz := (p_snapshot ->> 'observedAt')::timestamptz;
  v_state text := p_snapshot ->> 'state';
  v_job ao.jobs;
  v_result jsonb;
  v_thread_ids text[];
begin
  perform set_config('ao.job_id', coalesce(p_job_id, ''), true);

  v_url := 'https://github.com/' || lower(p_snapshot ->> 'owner') || '/' || lower(p_snapshot ->> 'repo')
    || '/pull/' || (p_snapshot ->> 'number');
  -- Per-PR serialisation: every writer of a PR takes this lock first, including for a PR that
  -- has no row yet (a row lock could not stop two first claims).
  perform pg_advisory_xact_lock(hashtextextended(v_url, 0));

  if p_job_id is not null then
    select * into v_job from ao.jobs where id = p_job_id;
    if found and v_job.state = 'succeeded' then
      return jsonb_build_object('ok', true, 'result', v_job.result, 'replayed', true);
    end if;
  end if;

  -- Re-check the claimant inside the transaction (the API checked it before the GitHub fetch);
  -- the share lock holds off a concurrent kill or delete until this claim commits.
  select * into v_session from ao.sessions where id = p_session_id for share;
  if not found then
    return ao.claim_error('SESSION_NOT_FOUND', format('session %s does not exist', p_session_id),
      jsonb_build_object('sessionId', p_session_id));
  elsif v_session.state = 'terminated' then
    return ao.claim_error('SESSION_TERMINATED', format('session %s is terminated', p_session_id),
      jsonb_build_object('sessionId', p_session_id));
  elsif v_session.state = 'provisional' and v_session.lease_expires_at < now() then
    -- its spawner gave up on it: a late claim must not bring it back
    return ao.claim_error('SESSION_TERMINATED',
      format('session %s was provisional and its lease expired', p_session_id),
      jsonb_build_object('sessionId', p_session_id, 'leaseExpiresAt', ao.iso(v_session.lease_expires_at)));
  elsif v_session.kind <> 'worker' then
    return ao.claim_error('SESSION_NOT_CLAIMABLE',
      format('session %s is an %s; only worker sessions can claim PRs', p_session_id, v_session.kind),
      jsonb_build_object('sessionId', p_session_id, 'kind', v_session.kind));
  elsif btrim(v_session.workspace_path) = '' then
    return ao.claim_error('SESSION_NO_WORKSPACE', format('session %s has no workspace', p_session_id),
      jsonb_build_object('sessionId', p_session_id));
  end if;

  if v_state in ('merged', 'closed') then
    return ao.claim_error('PR_NOT_OPEN',
      format('PR %s/%s#%s is %s; only open or draft PRs can be claimed',
        p_snapshot ->> 'owner', p_snapshot ->> 'repo', p_snapshot ->> 'number', v_state),
      jsonb_build_object('url', v_url, 'state', v_state));
  end if;

  select p.session_id, s.state, p.observed_at
    into v_owner, v_owner_state, v_stored_observed_at
  from ao.pull_requests p join ao.sessions s on s.id = p.session_id
  where p.url = v_url;

  if v_owner is not null and v_owner <> p_session_id and v_owner_state <> 'terminated'
     and not coalesce(p_allow_takeover, true) then
    return ao.claim_error('PR_CLAIMED_BY_ACTIVE_SESSION',
      format('PR %s/%s#%s is claimed by active session %s (claim with takeover to move it)',
        p_snapshot ->> 'owner', p_snapshot ->> 'repo', p_snapshot ->> 'number', v_owner),
      jsonb_build_object('ownerSessionId', v_owner, 'url', v_url));
  end if;

  if v_stored_observed_at is not null and v_stored_observed_at > v_observed_at then
    -- An older snapshot than the stored one (a slower concurrent fetch): keep the newer facts,
    -- move only the ownership.
    update ao.pull_requests
      set session_id = v_session.id, project_id = v_session.project_id
      where url = v_url and session_id is distinct from v_session.id;
  else
    insert into ao.pull_requests as p (
      url, owner, repo, number, session_id, project_id, title, author, state, ci, review,
      mergeability, is_draft, head_branch, head_sha, base_branch, base_sha, head_repository,
      is_cross_repository, additions, deletions, changed_files, provider_created_at,
      provider_updated_at, merged_at, closed_at, observed_at)
    select v_url, s.owner, s.repo, s.number, v_session.id, v_session.project_id, s.title, s.author,
      s.state, s.ci, s.review, s.mergeability, s."isDraft", s."headBranch", s."headSha",
      s."baseBranch", s."baseSha", s."headRepository", s."isCrossRepository", s.additions,
      s.deletions, s."changedFiles", s."providerCreatedAt", s."providerUpdatedAt", s."mergedAt",
      s."closedAt", v_observed_at
    from jsonb_to_record(p_snapshot) as s (
      owner text, repo text, number integer, title text, author text, state text, ci text,
      review text, mergeability text, "isDraft" boolean, "headBranch" text, "headSha" text,
      "baseBranch" text, "baseSha" text, "headRepository" text, "isCrossRepository" boolean,
      additions integer, deletions integer, "changedFiles" integer,
      "providerCreatedAt" timestamptz, "providerUpdatedAt" timestamptz, "mergedAt" timestamptz,
      "closedAt" timestamptz)
    on conflict (url) do update set
      owner = excluded.owner, repo = excluded.repo, session_id = excluded.session_id,
      project_id = excluded.project_id, title = excluded.title, author = excluded.author,
      state = excluded.state, ci = excluded.ci, review = excluded.review,
      mergeability = excluded.mergeability, is_draft = excluded.is_draft,
      head_branch = excluded.head_branch, head_sha = excluded.head_sha,
      base_branch = excluded.base_branch, base_sha = excluded.base_sha,
      head_repository = excluded.head_repository, is_cross_repository = excluded.is_cross_repository,
      additions = excluded.additions, deletions = excluded.deletions,
      changed_files = excluded.changed_files, provider_created_at = excluded.provider_created_at,
      provider_updated_at = excluded.provider_updated_at, merged_at = excluded.merged_at,
      closed_at = excluded.closed_at, observed_at = excluded.observed_at;

    -- checks of this snapshot; the same (sha, name) twice collapses to the last one
    insert into ao.pr_checks as c (pr_url, name, sha, status, conclusion, url)
    select distinct on (x.sha, x.name) v_url, x.name, x.sha, x.status, coalesce(x.conclusion, ''),
      coalesce(x.url, '')
    from rows from (jsonb_to_recordset(p_snapshot -> 'checks')
      as (name text, sha text, status text, conclusion text, url text)) with ordinality
      as x (name, sha, status, conclusion, url, ord)
    order by x.sha, x.name, x.ord desc
    on conflict (pr_url, sha, name) do update set
      status = excluded.status, conclusion = excluded.conclusion, url = excluded.url,
      updated_at = now()
    where (c.status, c.conclusion, c.url) is distinct from (excluded.status, excluded.conclusion, excluded.url);

    -- review threads: upsert the observed ones, prune the ones GitHub no longer has
    select coalesce(array_agg(t ->> 'id'), '{}') into v_thread_ids
    from jsonb_array_elements(p_snapshot -> 'reviewThreads') t;

    insert into ao.pr_review_threads as t (pr_url, thread_id, path, line, is_resolved, is_bot)
    select distinct on (x.id) v_url, x.id, coalesce(x.path, ''), x.line, x."isResolved", x."isBot"
    from rows from (jsonb_to_recordset(p_snapshot -> 'reviewThreads')
      as (id text, path text, line integer, "isResolved" boolean, "isBot" boolean)) with ordinality
      as x (id, path, line, "isResolved", "isBot", ord)
    order by x.id, x.ord desc
    on conflict (pr_url, thread_id) do update set
      path = excluded.path, line = excluded.line, is_resolved = excluded.is_resolved,
      is_bot = excluded.is_bot, updated_at = now()
    where (t.path, t.line, t.is_resolved, t.is_bot)
      is distinct from (excluded.path, excluded.line, excluded.is_resolved, excluded.is_bot);

    delete from ao.pr_review_threads
    where pr_url = v_url and thread_id <> all (v_thread_ids);

    -- comments of each observed thread are replaced by the observed ones
    with observed as (
      select distinct on (c.id) th ->> 'id' as thread_id, c.id, c.author, c.body, c.url,
        c."isBot", c."createdAt"
      from jsonb_array_elements(p_snapshot -> 'reviewThreads') th
      cross join lateral jsonb_to_recordset(th -> 'comments')
        as c (id text, author text, body text, url text, "isBot" boolean, "createdAt" timestamptz)
      order by c.id
    ), removed as (
      delete from ao.pr_review_comments m
      where m.pr_url = v_url and not exists (select 1 from observed o where o.id = m.comment_id)
    )
    insert into ao.pr_review_comments as m (pr_url, thread_id, comment_id, author, body, url, is_bot, created_at)
    select v_url, o.thread_id, o.id, coalesce(o.author, ''), coalesce(o.body, ''),
      coalesce(o.url, ''), coalesce(o."isBot", false), o."createdAt"
    from observed o
    on conflict (pr_url, comment_id) do update set
      thread_id = excluded.thread_id, author = excluded.author, body = excluded.body,
      url = excluded.url, is_bot = excluded.is_bot, created_at = excluded.created_at
    where (m.thread_id, m.author, m.body, m.url, m.is_bot, m.created_at)
      is distinct from (excluded.thread_id, excluded.author, excluded.body, excluded.url,
        excluded.is_bot, excluded.created_at);
  end if;

  -- a provisional session (spawned to claim this PR) becomes a real one with its claim
  if v_session.state = 'provisional' then
    update ao.sessions set state = 'active', lease_expires_at = null, updated_at = now()
    where id = v_session.id;
  end if;

  v_result := jsonb_build_object(
    'sessionId', v_session.id,
    'prs', ao.session_prs_json(v_session.id, v_url),
    'takenOverFrom', case when v_owner is not null and v_owner <> v_session.id
      then jsonb_build_array(v_owner) else '[]'::jsonb end,
    'donorWasTerminated', v_owner is not null and v_owner <> v_session.id and v_owner_state = 'terminated',
    'branchChanged', false,
    'branch', v_session.branch);

  if p_job_id is not null then
    update ao.jobs
      set state = 'succeeded', result = v_result, error = null, step = null,
        finished_at = now(), updated_at = now()
      where id = p_job_id;
  end if;

  return jsonb_build_object('ok', true, 'result', v_result, 'previousOwner', v_owner);
end
$$;
