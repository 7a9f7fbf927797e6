--! Previous: sha1:61aa809eb34b565acdb19308be08f88ee1bd5266
--! Hash: sha1:af0bb8b6c3addfb2ffb9fb12da8eab64d36d0cc5
--! Message: claim checkout

-- Issue 13: a claim checks the PR out in the session's worktree, on the session's host, before
-- its transaction; the transaction records where the worktree went.
--
-- ao.claim_pr gains p_checkout: {branch, branchChanged, pushTarget, donorMoved: {sessionId,
-- branch} | null}, what the worker's checkout did (null when the store is driven without one:
-- the result then says branchChanged false and pushTarget null). The claimant's session row takes
-- the branch its worktree is on; a donor moved back to its root branch takes that one. The rest is
-- 000004's function unchanged.

drop function ao.claim_pr(text, integer, text, boolean, jsonb);

create function ao.claim_pr(p_job_id text, p_run integer, p_session_id text, p_allow_takeover boolean,
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
