--! Previous: sha1:4f6b96663f7060180ddfae8a92896f8859dfc335
--! Hash: sha1:b0eb5397d8604f7cb101b8619da3533cbc7214d0
--! Message: batch re-claim, job lists

-- Issue 14: batch re-claim.
--
-- ao.apply_pr_snapshot is the write of a PR's full snapshot, shared by the claim and the
-- re-claim (it was inline in ao.claim_pr): every statement writes only what differs, and the
-- function returns how many rows it changed, so a re-claim can tell `refreshed` from `unchanged`.
-- A snapshot with the same facts moves only observed_at, which is no event (pr_updated ignores it).

create or replace function ao.apply_pr_snapshot(p_url text, p_session_id text, p_project_id text,
  p_snapshot jsonb, p_observed_at timestamptz)
returns integer
language plpgsql volatile
as $function$
declare
  v_changed integer := 0;
  v_n integer;
  v_thread_ids text[];
begin
  insert into ao.pull_requests as p (
    url, owner, repo, number, session_id, project_id, title, author, state, ci, review,
    mergeability, is_draft, head_branch, head_sha, base_branch, base_sha, head_repository,
    is_cross_repository, additions, deletions, changed_files, provider_created_at,
    provider_updated_at, merged_at, closed_at, observed_at)
  select p_url, s.owner, s.repo, s.number, p_session_id, p_project_id, s.title, s.author,
    s.state, s.ci, s.review, s.mergeability, s."isDraft", s."headBranch", s."headSha",
    s."baseBranch", s."baseSha", s."headRepository", s."isCrossRepository", s.additions,
    s.deletions, s."changedFiles", s."providerCreatedAt", s."providerUpdatedAt", s."mergedAt",
    s."closedAt", p_observed_at
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
    closed_at = excluded.closed_at, observed_at = excluded.observed_at
  where (p.owner, p.repo, p.session_id, p.project_id, p.title, p.author, p.state, p.ci, p.review,
      p.mergeability, p.is_draft, p.head_branch, p.head_sha, p.base_branch, p.base_sha,
      p.head_repository, p.is_cross_repository, p.additions, p.deletions, p.changed_files,
      p.provider_created_at, p.provider_updated_at, p.merged_at, p.closed_at)
    is distinct from (excluded.owner, excluded.repo, excluded.session_id, excluded.project_id,
      excluded.title, excluded.author, excluded.state, excluded.ci, excluded.review,
      excluded.mergeability, excluded.is_draft, excluded.head_branch, excluded.head_sha,
      excluded.base_branch, excluded.base_sha, excluded.head_repository,
      excluded.is_cross_repository, excluded.additions, excluded.deletions, excluded.changed_files,
      excluded.provider_created_at, excluded.provider_updated_at, excluded.merged_at,
      excluded.closed_at);
  get diagnostics v_n = row_count;
  v_changed := v_changed + v_n;
  if v_n = 0 then
    -- the same facts, seen again: only when they were seen moves (observedAt is no event)
    update ao.pull_requests set observed_at = p_observed_at
    where url = p_url and observed_at is distinct from p_observed_at;
  end if;

  -- checks of this snapshot; the same (sha, name) twice collapses to the last one
  insert into ao.pr_checks as c (pr_url, name, sha, status, conclusion, url)
  select distinct on (x.sha, x.name) p_url, x.name, x.sha, x.status, coalesce(x.conclusion, ''),
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
  select distinct on (x.id) p_url, x.id, coalesce(x.path, ''), x.line, x."isResolved", x."isBot"
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
  where pr_url = p_url and thread_id <> all (v_thread_ids);

  -- comments of each observed thread are replaced by the observed ones
  delete from ao.pr_review_comments m
  where m.pr_url = p_url and not exists (
    select 1
    from jsonb_array_elements(p_snapshot -> 'reviewThreads') th
    cross join lateral jsonb_to_recordset(th -> 'comments') as c (id text)
    where c.id = m.comment_id);
  get diagnostics v_n = row_count;
  v_changed := v_changed + v_n;

  insert into ao.pr_review_comments as m (pr_url, thread_id, comment_id, author, body, url, is_bot, created_at)
  select distinct on (c.id) p_url, th ->> 'id', c.id, coalesce(c.author, ''), coalesce(c.body, ''),
    coalesce(c.url, ''), coalesce(c."isBot", false), c."createdAt"
  from jsonb_array_elements(p_snapshot -> 'reviewThreads') th
  cross join lateral jsonb_to_recordset(th -> 'comments')
    as c (id text, author text, body text, url text, "isBot" boolean, "createdAt" timestamptz)
  order by c.id
  on conflict (pr_url, comment_id) do update set
    thread_id = excluded.thread_id, author = excluded.author, body = excluded.body,
    url = excluded.url, is_bot = excluded.is_bot, created_at = excluded.created_at
  where (m.thread_id, m.author, m.body, m.url, m.is_bot, m.created_at)
    is distinct from (excluded.thread_id, excluded.author, excluded.body, excluded.url,
      excluded.is_bot, excluded.created_at);
  get diagnostics v_n = row_count;
  v_changed := v_changed + v_n;

  return v_changed;
end
$function$;

create or replace function ao.claim_pr(p_job_id text, p_run integer, p_session_id text, p_allow_takeover boolean,
  p_snapshot jsonb, p_checkout jsonb default null)
returns jsonb
language plpgsql volatile
as $function$
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
    perform ao.apply_pr_snapshot(v_url, v_session.id, v_session.project_id, p_snapshot, v_observed_at);
  end if;

  perform ao.refresh_pr_doc(v_url);

  -- a provisional session (spawned to claim this PR) becomes a real one with its claim, and its
  -- branch is the one its worktree is on (also when a run that died after the switch left it
  -- there, and this run found it already moved)
  if v_session.state = 'provisional' or (p_checkout ->> 'branch') <> v_session.branch then
    update ao.sessions set
      state = case when state = 'provisional' then 'active' else state end,
      lease_expires_at = case when state = 'provisional' then null else lease_expires_at end,
      branch = coalesce(p_checkout ->> 'branch', branch),
      updated_at = now()
    where id = v_session.id;
  end if;
  -- a donor whose worktree gave up the PR's branch is back on its own
  if p_checkout -> 'donorMoved' ->> 'sessionId' is not null then
    update ao.sessions set branch = p_checkout -> 'donorMoved' ->> 'branch', updated_at = now()
    where id = p_checkout -> 'donorMoved' ->> 'sessionId'
      and branch is distinct from p_checkout -> 'donorMoved' ->> 'branch';
  end if;

  v_result := jsonb_build_object(
    'sessionId', v_session.id,
    'pr', 'https://github.com/' || (p_snapshot ->> 'owner') || '/' || (p_snapshot ->> 'repo')
      || '/pull/' || (p_snapshot ->> 'number'),
    'takenOverFrom', case when v_owner is not null and v_owner <> v_session.id
      then jsonb_build_array(v_owner) else '[]'::jsonb end,
    'donorWasTerminated', v_owner is not null and v_owner <> v_session.id and v_owner_state = 'terminated',
    'branchChanged', coalesce((p_checkout ->> 'branchChanged')::boolean, false),
    'branch', coalesce(p_checkout ->> 'branch', v_session.branch),
    'pushTarget', p_checkout -> 'pushTarget');

  if p_job_id is not null then
    update ao.jobs
      set state = 'succeeded', result = v_result, error = null, step = null, lease_expires_at = null,
        finished_at = now(), updated_at = now()
      where id = p_job_id;
  end if;

  return jsonb_build_object('ok', true, 'result', v_result, 'previousOwner', v_owner);
end
$function$;

-- ------------------------------------------------------------------------------------------------
-- batch re-claim (SPEC §6): a reclaim_batch parent and one reclaim_item child per PR
--
-- The parent's run (ao.start_job_run, fenced and leased like a claim's) does all the work; the
-- children are its ledger: created once, each finished exactly once by the run that holds the
-- parent's fence (a run that lost it writes nothing). Children carry no lease of their own: they
-- stay `queued` until finished, and a new run of the parent resumes with the unfinished ones.
-- A child's result is {pr, outcome}: refreshed | unchanged | skipped:<reason> | failed:<code>.

-- The PRs a batch's selector names, as (url, owner session, project). `request.selector` is one of
-- {prs: [url]}, {sessionId}, {projectId}, {orphaned: true} (owner terminated), {all: true}, and
-- {live: true} (the scheduled refresh: owners that are not terminated); merged and closed PRs only
-- with includeClosed. URLs named in {prs} that ao does not know still get an item (skipped).
create or replace function ao.reclaim_selection(p_request jsonb)
returns table (url text, session_id text, project_id text)
language sql stable
as $$
  with sel as (select p_request -> 'selector' as s, coalesce((p_request ->> 'includeClosed')::boolean, false) as closed_too)
  select coalesce(p.url, given.url), p.session_id, p.project_id
  from sel
  cross join lateral (
    select lower(u) as url from jsonb_array_elements_text(sel.s -> 'prs') u
  ) given
  left join ao.pull_requests p on p.url = given.url
  where sel.s ? 'prs'
  union all
  select p.url, p.session_id, p.project_id
  from sel, ao.pull_requests p join ao.sessions o on o.id = p.session_id
  where not (sel.s ? 'prs')
    and (sel.closed_too or p.state not in ('merged', 'closed'))
    and case
      when sel.s ? 'sessionId' then p.session_id = sel.s ->> 'sessionId'
      when sel.s ? 'projectId' then p.project_id = sel.s ->> 'projectId'
      when sel.s ? 'orphaned' then o.state = 'terminated'
      when sel.s ? 'live' then o.state <> 'terminated'
      when sel.s ? 'all' then true
      else false
    end
$$;

-- Creates the batch's items once (a later run finds them made). Item ids are the parent's id and
-- a 6-digit ordinal, so the items page in the order they were selected. Returns the total.
create or replace function ao.create_reclaim_items(p_batch_id text, p_run integer) returns integer
language plpgsql volatile
as $$
declare
  v_request jsonb;
  v_total integer;
begin
  select request into v_request from ao.jobs
  where id = p_batch_id and run = p_run and state = 'running' and kind = 'reclaim_batch' for update;
  if not found then
    return null;
  end if;
  select count(*) into v_total from ao.jobs where parent_id = p_batch_id;
  if v_total = 0 then
    -- a PR ao does not know (named in {prs}) is skipped at once: nothing to fetch it for
    insert into ao.jobs (id, kind, state, session_id, project_id, parent_id, request, result, finished_at)
    select p_batch_id || '-' || lpad((row_number() over (order by s.url))::text, 6, '0'), 'reclaim_item',
      case when s.session_id is null then 'succeeded' else 'queued' end,
      s.session_id, s.project_id, p_batch_id, jsonb_build_object('pr', s.url),
      case when s.session_id is null then jsonb_build_object('pr', s.url, 'outcome', 'skipped:not-claimed') end,
      case when s.session_id is null then now() end
    from (select distinct on (x.url) x.url, x.session_id, x.project_id from ao.reclaim_selection(v_request) x order by x.url) s;
    get diagnostics v_total = row_count;
  end if;
  update ao.jobs set progress = jsonb_build_object('done',
      (select count(*) from ao.jobs c where c.parent_id = p_batch_id and c.state <> 'queued'), 'total', v_total),
    updated_at = now()
  where id = p_batch_id;
  return v_total;
end
$$;

-- One PR of a batch, in one transaction: the same per-PR lock as a claim, the parent's fence
-- (held FOR SHARE, so the items of one run commit side by side while a takeover of the parent
-- waits for them), the owner kept, and a snapshot older than the stored one refused (a single
-- claim that raced ahead keeps its newer facts). The item is finished with its outcome.
-- Returns {outcome} or {fenced: true}; an item already finished answers {outcome: "done"}.
create or replace function ao.reclaim_pr(p_batch_id text, p_run integer, p_item_id text, p_snapshot jsonb,
  p_observed_at timestamptz)
returns jsonb
language plpgsql volatile
as $$
declare
  v_url text;
  v_item_state text;
  v_owner text;
  v_project text;
  v_stored_observed_at timestamptz;
  v_stored_updated_at timestamptz;
  v_updated_at timestamptz := (p_snapshot ->> 'providerUpdatedAt')::timestamptz;
  v_outcome text;
begin
  perform set_config('ao.job_id', p_item_id, true);
  v_url := 'https://github.com/' || lower(p_snapshot ->> 'owner') || '/' || lower(p_snapshot ->> 'repo')
    || '/pull/' || (p_snapshot ->> 'number');
  perform pg_advisory_xact_lock(hashtextextended(v_url, 0));
  perform 1 from ao.jobs where id = p_batch_id and run = p_run and state = 'running' for share;
  if not found then
    return jsonb_build_object('fenced', true);
  end if;
  select state into v_item_state from ao.jobs where id = p_item_id and parent_id = p_batch_id for update;
  if v_item_state is distinct from 'queued' then
    return jsonb_build_object('outcome', 'done');
  end if;

  select p.session_id, p.project_id, p.observed_at, p.provider_updated_at
    into v_owner, v_project, v_stored_observed_at, v_stored_updated_at
  from ao.pull_requests p where p.url = v_url;
  if not found or v_owner is null then
    v_outcome := 'skipped:not-claimed';
  elsif v_updated_at < v_stored_updated_at
     or (v_updated_at is not distinct from v_stored_updated_at and p_observed_at < v_stored_observed_at) then
    v_outcome := 'unchanged';
  elsif ao.apply_pr_snapshot(v_url, v_owner, v_project, p_snapshot, p_observed_at) > 0 then
    v_outcome := 'refreshed';
    perform ao.refresh_pr_doc(v_url);
  else
    v_outcome := 'unchanged';
    -- the same facts: the stored document differs only in when they were seen (cheaper than
    -- rebuilding it from the PR's rows)
    update ao.pr_docs set doc = jsonb_set(doc::jsonb, '{observedAt}', to_jsonb(ao.iso(p_observed_at)))::text
    where url = v_url;
  end if;

  update ao.jobs set state = 'succeeded', result = jsonb_build_object('pr', v_url, 'outcome', v_outcome),
    finished_at = now(), updated_at = now()
  where id = p_item_id;
  return jsonb_build_object('outcome', v_outcome);
end
$$;

-- Items that end without a snapshot, many per statement: failed:<code> (with the error) or
-- skipped:<reason>. p_items: [{id, outcome, error}]. Fenced by the parent's run; finished items
-- are left alone. Returns how many it finished, or null when the fence is lost.
create or replace function ao.finish_reclaim_items(p_batch_id text, p_run integer, p_items jsonb) returns integer
language plpgsql volatile
as $$
declare
  v_n integer;
begin
  perform 1 from ao.jobs where id = p_batch_id and run = p_run and state = 'running' for share;
  if not found then
    return null;
  end if;
  update ao.jobs j set
    state = case when x.outcome like 'failed:%' then 'failed' else 'succeeded' end,
    result = jsonb_build_object('pr', j.request ->> 'pr', 'outcome', x.outcome),
    error = x.error, finished_at = now(), updated_at = now()
  from jsonb_to_recordset(p_items) as x (id text, outcome text, error jsonb)
  where j.id = x.id and j.parent_id = p_batch_id and j.state = 'queued';
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- The next unfinished items of a batch, in order (the run's work list).
create or replace function ao.next_reclaim_items(p_batch_id text, p_after text, p_limit integer)
returns table (id text, pr text)
language sql stable
as $$
  select j.id, j.request ->> 'pr' from ao.jobs j
  where j.parent_id = p_batch_id and j.state = 'queued' and j.id > coalesce(p_after, '')
  order by j.id limit p_limit
$$;

-- The parent says how far it is (progress {done, total}) and what it does (step); false: fence lost.
create or replace function ao.report_reclaim_progress(p_batch_id text, p_run integer, p_step text) returns boolean
language sql volatile
as $$
  with counted as (
    select count(*) filter (where state <> 'queued') as done, count(*) as total
    from ao.jobs where parent_id = p_batch_id
  ), updated as (
    update ao.jobs j set progress = jsonb_build_object('done', c.done, 'total', c.total), step = p_step, updated_at = now()
    from counted c
    where j.id = p_batch_id and j.run = p_run and j.state = 'running'
      and (j.progress is distinct from jsonb_build_object('done', c.done, 'total', c.total) or j.step is distinct from p_step)
    returning 1
  )
  select exists (select 1 from updated)
    or exists (select 1 from ao.jobs where id = p_batch_id and run = p_run and state = 'running')
$$;

-- The batch is done: its result counts the items by outcome. Null when the fence is lost.
create or replace function ao.finish_reclaim_batch(p_batch_id text, p_run integer) returns jsonb
language plpgsql volatile
as $$
declare
  v_counts jsonb;
begin
  select jsonb_build_object(
      'refreshed', count(*) filter (where result ->> 'outcome' = 'refreshed'),
      'unchanged', count(*) filter (where result ->> 'outcome' = 'unchanged'),
      'skipped', count(*) filter (where result ->> 'outcome' like 'skipped:%'),
      'failed', count(*) filter (where result ->> 'outcome' like 'failed:%'))
    into v_counts
  from ao.jobs where parent_id = p_batch_id;
  update ao.jobs set state = 'succeeded', result = jsonb_build_object('counts', v_counts),
    progress = jsonb_build_object('done', (select count(*) from ao.jobs where parent_id = p_batch_id and state <> 'queued'),
      'total', (select count(*) from ao.jobs where parent_id = p_batch_id)),
    step = null, lease_expires_at = null, finished_at = now(), updated_at = now()
  where id = p_batch_id and run = p_run and state = 'running';
  if not found then
    return null;
  end if;
  return v_counts;
end
$$;

-- Cancel (DELETE /api/v1/jobs/{id}) as before, and a batch's unfinished items with it: the run
-- in flight loses its fence, so no item is finished after the cancel.
create or replace function ao.cancel_job(p_id text) returns jsonb
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
  update ao.jobs set state = 'cancelled', finished_at = now(), updated_at = now()
  where parent_id = p_id and state = 'queued';
  return jsonb_build_object('outcome', 'cancelled');
end
$$;

-- the batch's work list and its counts read the items of one parent by state
create index if not exists jobs_parent_state on ao.jobs (parent_id, state, id) where parent_id is not null;


-- GET /api/v1/jobs pages newest first by (created_at, id): without an index each page sorted the
-- whole table (a full scan per page). Scanned backwards, this one serves the order directly; the
-- kind and state filters are checked along the walk.
create index if not exists jobs_created on ao.jobs (created_at, id);

-- GET /api/v1/jobs/{id}/items pages a batch's children by (created_at, id): the parent index gains
-- the order, so a page of a 10,000-item batch reads its page, not every child. The leading
-- parent_id still serves the delete cascade.
drop index if exists ao.jobs_parent;
create index jobs_parent on ao.jobs (parent_id, created_at, id) where parent_id is not null;
