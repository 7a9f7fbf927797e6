--! Previous: sha1:ea83d15ab1e78e5c5fdc57e07afab56aefd8a63c
--! Hash: sha1:dfb2971a146422ffa8113857cc2432b6ff1d2c43
--! Message: fenced job runs, retention, lean claim results

-- The job engine, closed and fenced; retention; a claim's cost independent of what its session owns.
--
-- Job runs (SPEC §2). Every run of a job starts with ao.start_job_run, which increments
-- `jobs.run` (the run's fence) and gives the run a lease. Every later write of that run names its
-- fence and a legal transition, so a run that lost its fence (its lease ran out and another run
-- took the job over) writes nothing. The states form a closed machine:
--
--   queued ──start──> running ──claim_pr──> succeeded
--     ^                 │  │ └─fail──> failed
--     └──requeue────────┘  └─begin_compensation──> compensating ──finish──> compensated
--                                                                     └──> compensation_failed
--   queued ──cancel──> cancelled
--
-- Owners: a queued job is the sweeper's (it hands the job to BullMQ again when BullMQ lost it); a
-- running or compensating job is its run's, for as long as the run renews its lease; a run whose
-- lease ran out is taken over by the next start (a compensating job resumes its compensation).
-- Runs that die holding the lease are counted: past p_max_lost_runs the job stops being retried
-- and ends `failed` with JOB_STALLED (a spawn_claim goes to compensating first, so its session is
-- still removed). Terminal states never change again.

alter table ao.jobs
  add column run integer not null default 0,
  add column lease_expires_at timestamptz,
  add column lost_runs integer not null default 0;

-- jobs that a previous version left running get an expired lease: the sweeper recovers them
update ao.jobs set lease_expires_at = now() where state in ('running', 'compensating');

alter table ao.jobs drop constraint jobs_state_check;
alter table ao.jobs add constraint jobs_state_check
  check (state in ('queued', 'running', 'succeeded', 'failed', 'compensating', 'compensated',
    'compensation_failed', 'cancelled'));

-- a running or compensating job always has an owner with a lease; nothing else has one
alter table ao.jobs add constraint jobs_lease_iff_owned
  check ((state in ('running', 'compensating')) = (lease_expires_at is not null));

-- the job-delete cascade and the retention delete look keys up by job
create index idempotency_keys_job on ao.idempotency_keys (job_id);
create index jobs_finished on ao.jobs (finished_at) where finished_at is not null;
-- GET /api/v1/sessions pages in (created_at, id) order
create index sessions_created on ao.sessions (created_at, id);
create index change_log_created on ao.change_log (created_at);

-- ------------------------------------------------------------------------------------------------
-- runs

-- ISO 8601 with microseconds: the snapshot order compares these, so no precision is dropped
create function ao.iso_us(ts timestamptz) returns text
language sql stable parallel safe
as $$ select to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- Starts (or resumes) a run of job p_id. Returns
--   {"outcome": "run", "run", "state": "running"|"compensating", "kind", "request", "sessionId",
--    "error", "attempts", "startedAt"}  -- startedAt: the database's clock, not the worker's
--   {"outcome": "busy"}      another run holds a live lease (a duplicate delivery)
--   {"outcome": "finished"}  the job is terminal (or just became so: JOB_STALLED)
--   {"outcome": "missing"}   no such job (a queue entry whose job row never committed)
create function ao.start_job_run(p_id text, p_lease_ms integer, p_max_lost_runs integer, p_step text)
returns jsonb
language plpgsql volatile
as $$
declare
  v_job ao.jobs;
  v_lost boolean;
  v_state text;
  v_error jsonb;
begin
  select * into v_job from ao.jobs where id = p_id for update;
  if not found then
    return jsonb_build_object('outcome', 'missing');
  elsif v_job.state not in ('queued', 'running', 'compensating') then
    return jsonb_build_object('outcome', 'finished');
  elsif v_job.state <> 'queued' and v_job.lease_expires_at > clock_timestamp() then
    return jsonb_build_object('outcome', 'busy');
  end if;

  -- a running or compensating job whose lease ran out: its run died (or was cut off)
  v_lost := v_job.state <> 'queued';
  v_state := case when v_job.state = 'compensating' then 'compensating' else 'running' end;
  v_error := v_job.error;

  if v_lost and v_job.lost_runs + 1 > p_max_lost_runs then
    v_error := jsonb_build_object('code', 'JOB_STALLED',
      'message', format('job %s was abandoned by %s runs that died before finishing; it is not retried again',
        p_id, v_job.lost_runs + 1),
      'details', jsonb_build_object('lostRuns', v_job.lost_runs + 1));
    if v_job.state = 'compensating' then
      update ao.jobs set state = 'compensation_failed', run = run + 1, lost_runs = lost_runs + 1,
        lease_expires_at = null, step = null,
        error = jsonb_set(coalesce(error, v_error), '{details}',
          case when jsonb_typeof(error -> 'details') = 'object' then error -> 'details' else '{}'::jsonb end
            || jsonb_build_object('compensationError', v_error ->> 'message')),
        finished_at = now(), updated_at = now()
      where id = p_id;
      return jsonb_build_object('outcome', 'finished');
    elsif v_job.kind <> 'spawn_claim' then
      update ao.jobs set state = 'failed', run = run + 1, lost_runs = lost_runs + 1,
        lease_expires_at = null, step = null, error = v_error, finished_at = now(), updated_at = now()
      where id = p_id;
      return jsonb_build_object('outcome', 'finished');
    end if;
    -- a spawn_claim still owes the removal of its session: this run compensates
    v_state := 'compensating';
    p_step := 'removing the spawned session';
  end if;

  update ao.jobs set
    state = v_state,
    run = run + 1,
    lost_runs = lost_runs + case when v_lost then 1 else 0 end,
    attempts = attempts + case when v_state = 'running' then 1 else 0 end,
    lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_ms / 1000.0),
    -- a resumed compensation keeps saying what it does
    step = case when v_job.state = 'compensating' then v_job.step else p_step end,
    error = v_error,
    updated_at = now()
  where id = p_id
  returning * into v_job;

  return jsonb_build_object('outcome', 'run', 'run', v_job.run, 'state', v_job.state,
    'kind', v_job.kind, 'request', v_job.request, 'sessionId', v_job.session_id,
    'error', v_job.error, 'attempts', v_job.attempts, 'startedAt', ao.iso_us(now()));
end
$$;

-- The run renews its lease; false: the fence is lost (the run must stop and write nothing more).
create function ao.renew_job_lease(p_id text, p_run integer, p_lease_ms integer) returns boolean
language sql volatile
as $$
  with renewed as (
    update ao.jobs set lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_ms / 1000.0)
    where id = p_id and run = p_run and state in ('running', 'compensating')
    returning 1)
  select exists (select 1 from renewed)
$$;

-- running → queued between attempts (backoff, GitHub's rate limit, a worker shutting down);
-- p_refund: the attempt does not count (it never reached GitHub's verdict).
create function ao.requeue_job_run(p_id text, p_run integer, p_step text, p_error jsonb, p_refund boolean)
returns boolean
language sql volatile
as $$
  with moved as (
    update ao.jobs set state = 'queued', lease_expires_at = null, step = p_step, error = p_error,
      attempts = attempts - case when p_refund then 1 else 0 end, updated_at = now()
    where id = p_id and run = p_run and state = 'running'
    returning 1)
  select exists (select 1 from moved)
$$;

create function ao.fail_job_run(p_id text, p_run integer, p_error jsonb) returns boolean
language sql volatile
as $$
  with moved as (
    update ao.jobs set state = 'failed', lease_expires_at = null, step = null, error = p_error,
      finished_at = now(), updated_at = now()
    where id = p_id and run = p_run and state = 'running'
    returning 1)
  select exists (select 1 from moved)
$$;

create function ao.begin_job_compensation(p_id text, p_run integer, p_error jsonb, p_step text)
returns boolean
language sql volatile
as $$
  with moved as (
    update ao.jobs set state = 'compensating', step = p_step, error = p_error, updated_at = now()
    where id = p_id and run = p_run and state = 'running'
    returning 1)
  select exists (select 1 from moved)
$$;

create function ao.finish_job_compensation(p_id text, p_run integer, p_failed boolean, p_error jsonb)
returns boolean
language sql volatile
as $$
  with moved as (
    update ao.jobs set state = case when p_failed then 'compensation_failed' else 'compensated' end,
      lease_expires_at = null, step = null, error = p_error, finished_at = now(), updated_at = now()
    where id = p_id and run = p_run and state = 'compensating'
    returning 1)
  select exists (select 1 from moved)
$$;

-- ------------------------------------------------------------------------------------------------
-- the claim transaction, fenced

-- The job's stored result is small and fixed-size: {sessionId, pr (the claimed PR's URL),
-- takenOverFrom, donorWasTerminated, branchChanged, branch}. The session's PR list (SPEC §3.5
-- `prs`) is assembled when the job is read (ao.job_answer_json), so neither the job row nor its
-- job_updated event grows with the number of PRs the session owns.
create function ao.job_answer_json(j ao.jobs) returns jsonb
language plpgsql stable parallel safe
as $$
begin
  if j.kind in ('claim', 'spawn_claim') and j.state = 'succeeded' and j.result ? 'pr' then
    return ao.job_json(j) || jsonb_build_object('result',
      (j.result - 'pr') || jsonb_build_object('prs', ao.session_prs_json(j.session_id, lower(j.result ->> 'pr'))));
  end if;
  return ao.job_json(j);
end
$$;

drop function ao.claim_pr(text, text, boolean, jsonb);

-- p_job_id/p_run: the run this claim completes (both null when the store is driven directly).
-- Returns {"ok": true, "result", "previousOwner"}, {"ok": false, "error"} (nothing written), or
-- {"ok": false, "fenced": true} when the run lost its fence (nothing written).
create function ao.claim_pr(p_job_id text, p_run integer, p_session_id text, p_allow_takeover boolean,
  p_snapshot jsonb)
returns jsonb
language plpgsql volatile
as $$
declare
  v_session ao.sessions;
  v_url text;
  v_owner text;
  v_owner_state text;
  v_stored_observed_at timestamptz;
  v_stored_updated_at timestamptz;
  v_observed_at timestamptz := (p_snapshot ->> 'observedAt')::timestamptz;
  v_updated_at timestamptz := (p_snapshot ->> 'providerUpdatedAt')::timestamptz;
  v_state text := p_snapshot ->> 'state';
  v_result jsonb;
  v_thread_ids text[];
begin
  perform set_config('ao.job_id', coalesce(p_job_id, ''), true);

  v_url := 'https://github.com/' || lower(p_snapshot ->> 'owner') || '/' || lower(p_snapshot ->> 'repo')
    || '/pull/' || (p_snapshot ->> 'number');
  -- Per-PR serialisation: every writer of a PR takes this lock first, including for a PR that
  -- has no row yet (a row lock could not stop two first claims).
  perform pg_advisory_xact_lock(hashtextextended(v_url, 0));

  -- The fence: the job row stays locked until this transaction ends, so no other run can take
  -- the job over between this check and the commit.
  if p_job_id is not null then
    perform 1 from ao.jobs where id = p_job_id and run = p_run and state = 'running' for update;
    if not found then
      return jsonb_build_object('ok', false, 'fenced', true);
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

  select p.session_id, s.state, p.observed_at, p.provider_updated_at
    into v_owner, v_owner_state, v_stored_observed_at, v_stored_updated_at
  from ao.pull_requests p join ao.sessions s on s.id = p.session_id
  where p.url = v_url;

  if v_owner is not null and v_owner <> p_session_id and v_owner_state <> 'terminated'
     and not coalesce(p_allow_takeover, true) then
    return ao.claim_error('PR_CLAIMED_BY_ACTIVE_SESSION',
      format('PR %s/%s#%s is claimed by active session %s (claim with takeover to move it)',
        p_snapshot ->> 'owner', p_snapshot ->> 'repo', p_snapshot ->> 'number', v_owner),
      jsonb_build_object('ownerSessionId', v_owner, 'url', v_url));
  end if;

  -- Snapshot order: GitHub's own updatedAt first (a PR's clock on GitHub), then, for equal
  -- updatedAt (CI and mergeability do not move it), when the run that fetched it started by the
  -- database's clock. No worker's clock takes part.
  if v_owner is not null and (
       v_updated_at < v_stored_updated_at
       or (v_updated_at is not distinct from v_stored_updated_at and v_observed_at < v_stored_observed_at)) then
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
    'pr', 'https://github.com/' || (p_snapshot ->> 'owner') || '/' || (p_snapshot ->> 'repo')
      || '/pull/' || (p_snapshot ->> 'number'),
    'takenOverFrom', case when v_owner is not null and v_owner <> v_session.id
      then jsonb_build_array(v_owner) else '[]'::jsonb end,
    'donorWasTerminated', v_owner is not null and v_owner <> v_session.id and v_owner_state = 'terminated',
    'branchChanged', false,
    'branch', v_session.branch);

  if p_job_id is not null then
    update ao.jobs
      set state = 'succeeded', result = v_result, error = null, step = null, lease_expires_at = null,
        finished_at = now(), updated_at = now()
      where id = p_job_id;
  end if;

  return jsonb_build_object('ok', true, 'result', v_result, 'previousOwner', v_owner);
end
$$;

-- ------------------------------------------------------------------------------------------------
-- retention (SPEC §4): change_log, finished jobs, idempotency keys, checks of old commits

-- Everything at or below this position was deleted by retention; a reader whose cursor is below
-- it has missed events and is told so (CURSOR_EXPIRED) instead of getting a silent gap.
create table ao.change_log_floor (
  only_row boolean primary key default true check (only_row),
  tx_id bigint not null,
  id bigint not null
);
insert into ao.change_log_floor (tx_id, id) values (0, 0);

-- Deletes made by retention are housekeeping, not changes of the domain: they write no events.
create function ao.cdc_suppressed() returns boolean
language sql stable parallel safe
as $$ select coalesce(current_setting('ao.retention', true), '') = 'on' $$;

create or replace function ao.tg_jobs_cdc() returns trigger
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
  elsif not ao.cdc_suppressed() then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'job_deleted', 'job', o.id, o.project_id, o.session_id, o.id, ao.job_json(o)
    from old_rows o order by o.id;
  end if;
  return null;
end
$$;

create or replace function ao.tg_pr_checks_cdc() returns trigger
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
  elsif not ao.cdc_suppressed() then
    insert into ao.change_log (op, type, entity, entity_key, project_id, session_id, job_id, before)
    select 'delete', 'pr_check_removed', 'check', o.pr_url || '#' || o.sha || '/' || o.name,
      p.project_id, p.session_id, ao.causation_job_id(), ao.check_json(o) || jsonb_build_object('pr', o.pr_url)
    from old_rows o left join ao.pull_requests p on p.url = o.pr_url
    order by o.pr_url, o.sha, o.name;
  end if;
  return null;
end
$$;

-- One batch of retention, each part in its own short statement-sized transaction when called in
-- autocommit; returns what it deleted. Callers repeat while anything was deleted.
--   change_log: events older than the cutoff and final (below the reader horizon), oldest first;
--     the floor moves to the newest deleted one, and every event at or below it goes.
--   jobs: finished before the cutoff (their idempotency keys go with them).
--   idempotency keys: made before the cutoff (a retry that late makes a new job).
--   checks: of commits that are no longer their PR's head, untouched since the cutoff.
create function ao.apply_retention(p_retention_seconds integer, p_batch integer)
returns jsonb
language plpgsql volatile
as $$
declare
  v_cutoff timestamptz := now() - make_interval(secs => p_retention_seconds);
  v_horizon bigint := ao.change_log_horizon();
  v_floor_tx bigint;
  v_floor_id bigint;
  v_events integer := 0;
  v_jobs integer := 0;
  v_keys integer := 0;
  v_checks integer := 0;
begin
  perform set_config('ao.retention', 'on', true);

  select c.tx_id, c.id into v_floor_tx, v_floor_id
  from (select tx_id, id from ao.change_log
        where created_at < v_cutoff and tx_id < v_horizon
        order by tx_id, id limit p_batch) c
  order by c.tx_id desc, c.id desc limit 1;
  if v_floor_tx is not null then
    update ao.change_log_floor set tx_id = v_floor_tx, id = v_floor_id
    where (tx_id, id) < (v_floor_tx, v_floor_id);
    delete from ao.change_log where (tx_id, id) <= (v_floor_tx, v_floor_id);
    get diagnostics v_events = row_count;
  end if;

  delete from ao.jobs where id in (
    select id from ao.jobs where finished_at < v_cutoff and parent_id is null
    order by finished_at limit p_batch);
  get diagnostics v_jobs = row_count;

  delete from ao.idempotency_keys k where (k.scope, k.key) in (
    select scope, key from ao.idempotency_keys where created_at < v_cutoff limit p_batch);
  get diagnostics v_keys = row_count;

  delete from ao.pr_checks c where (c.pr_url, c.sha, c.name) in (
    select c2.pr_url, c2.sha, c2.name from ao.pr_checks c2
    join ao.pull_requests p on p.url = c2.pr_url
    where c2.sha <> p.head_sha and c2.updated_at < v_cutoff limit p_batch);
  get diagnostics v_checks = row_count;

  return jsonb_build_object('events', v_events, 'jobs', v_jobs, 'idempotencyKeys', v_keys,
    'checks', v_checks);
end
$$;

-- ------------------------------------------------------------------------------------------------
-- cancel (DELETE /api/v1/jobs/{id})

-- A queued or running job ends cancelled; its run number moves on, so a run in flight is fenced
-- out and writes nothing (a running claim's transaction either committed before — then the job
-- is succeeded and this refuses — or finds its fence gone). A compensating job must finish its
-- compensation and is refused, as is a finished one. Returns {"outcome": "cancelled"|"finished"|
-- "compensating"|"missing"}.
create function ao.cancel_job(p_id text) returns jsonb
language plpgsql volatile
as $$
declare
  v_state text;
begin
  select state into v_state from ao.jobs where id = p_id for update;
  if not found then
    return jsonb_build_object('outcome', 'missing');
  elsif v_state = 'compensating' then
    return jsonb_build_object('outcome', 'compensating');
  elsif v_state not in ('queued', 'running') then
    return jsonb_build_object('outcome', 'finished', 'state', v_state);
  end if;
  update ao.jobs set state = 'cancelled', run = run + 1, lease_expires_at = null, step = null,
    finished_at = now(), updated_at = now()
  where id = p_id;
  return jsonb_build_object('outcome', 'cancelled');
end
$$;

-- ------------------------------------------------------------------------------------------------
-- reading below the retention floor

-- ao.read_change_log, refusing a cursor that retention has passed: events after it were deleted,
-- so reading on would be a silent gap. The floor is read after the events, in a newer snapshot,
-- so a retention that commits while the events are read cannot slip between the two.
-- Raises SQLSTATE AO410 with the floor cursor as its detail. Cursor (0, 0) means "from the
-- oldest kept event" and is never refused.
create function ao.read_change_log_checked(p_after_tx bigint, p_after_id bigint, p_limit integer)
returns setof ao.change_log
language plpgsql volatile
as $$
declare
  v_floor ao.change_log_floor;
begin
  return query select * from ao.read_change_log(p_after_tx, p_after_id, p_limit);
  if (p_after_tx, p_after_id) <> (0::bigint, 0::bigint) then
    select * into v_floor from ao.change_log_floor;
    if (p_after_tx, p_after_id) < (v_floor.tx_id, v_floor.id) then
      raise exception 'cursor %-% is below the oldest kept event', p_after_tx, p_after_id
        using errcode = 'AO410', detail = v_floor.tx_id || '-' || v_floor.id;
    end if;
  end if;
end
$$;
