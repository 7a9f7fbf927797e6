--! Previous: sha1:dfb2971a146422ffa8113857cc2432b6ff1d2c43
--! Hash: sha1:61aa809eb34b565acdb19308be08f88ee1bd5266
--! Message: per-PR documents, async run start

-- Issue 12: a claim's cost independent of how many PRs its session owns, and one fsync fewer
-- per claim.

-- ------------------------------------------------------------------------------------------------
-- Each PR's API document (SPEC §9 PullRequest, checks and threads included), kept as text beside
-- the row and rewritten by the one writer of PRs (ao.claim_pr) in the same transaction. Reading a
-- session's PRs (a claim's answer, GET /sessions/{id}/pr) concatenates these instead of
-- rebuilding every PR's JSON from five tables on every read, and the API sends the text on
-- without parsing it. Not a CDC table: the change is already reported by the PR's own events.
create table ao.pr_docs (
  url text primary key references ao.pull_requests (url) on delete cascade,
  doc text not null
);

insert into ao.pr_docs (url, doc)
select p.url, ao.pr_full_json(p)::text from ao.pull_requests p;

create function ao.refresh_pr_doc(p_url text) returns void
language sql volatile
as $$
  insert into ao.pr_docs (url, doc)
  select p.url, ao.pr_full_json(p)::text from ao.pull_requests p where p.url = p_url
  on conflict (url) do update set doc = excluded.doc
$$;

-- A session's PRs as a JSON array (text), in SPEC §3.5 order: `first_url` (the PR just claimed)
-- first, then open and draft before merged and closed, then the most recently updated first.
create function ao.session_prs_text(p_session_id text, p_first_url text default null) returns text
language sql stable parallel safe
as $$
  select '[' || coalesce(string_agg(d.doc, ',' order by
      p.url is not distinct from p_first_url desc,
      p.state in ('merged', 'closed'),
      p.provider_updated_at desc nulls last,
      p.number desc), '') || ']'
  from ao.pull_requests p
  join ao.pr_docs d on d.url = p.url
  where p.session_id = p_session_id
$$;

create or replace function ao.session_prs_json(p_session_id text, p_first_url text default null) returns jsonb
language sql stable parallel safe
as $$
  select ao.session_prs_text(p_session_id, p_first_url)::jsonb
$$;

-- The job as GET /api/v1/jobs/{id} answers it, as text: a succeeded claim's lean stored result
-- gains `prs` (the session's PRs as they are now). Built by concatenation so that a session
-- owning a thousand PRs costs a string copy, not a parse and re-serialisation of each one. Both
-- objects spliced are never empty (a job has an id, a claim result a sessionId).
create function ao.job_answer_text(j ao.jobs) returns text
language plpgsql stable parallel safe
as $$
declare
  v_job text;
  v_result text;
begin
  if j.kind in ('claim', 'spawn_claim') and j.state = 'succeeded' and j.result ? 'pr' then
    v_job := (ao.job_json(j) - 'result')::text;
    v_result := (j.result - 'pr')::text;
    return left(v_job, -1) || ', "result": ' || left(v_result, -1) || ', "prs": '
      || ao.session_prs_text(j.session_id, lower(j.result ->> 'pr')) || '}}';
  end if;
  return ao.job_json(j)::text;
end
$$;

create or replace function ao.job_answer_json(j ao.jobs) returns jsonb
language sql stable parallel safe
as $$
  select ao.job_answer_text(j)::jsonb
$$;

-- ------------------------------------------------------------------------------------------------
-- ao.claim_pr keeps each PR's document current; the rest of it is unchanged (000003).
do $migration$
declare
  v_src text;
begin
  select pg_get_functiondef('ao.claim_pr(text, integer, text, boolean, jsonb)'::regprocedure) into v_src;
  if position('ao.refresh_pr_doc' in v_src) = 0 then
    v_src := replace(v_src,
      E'  -- a provisional session (spawned to claim this PR) becomes a real one with its claim\n',
      E'  perform ao.refresh_pr_doc(v_url);\n\n'
      || E'  -- a provisional session (spawned to claim this PR) becomes a real one with its claim\n');
    if position('ao.refresh_pr_doc' in v_src) = 0 then
      raise exception 'ao.claim_pr does not have the shape this migration expects';
    end if;
    execute v_src;
  end if;
end
$migration$;

-- ------------------------------------------------------------------------------------------------
-- A run's start commits without waiting for its WAL flush (synchronous_commit = off for that one
-- transaction). Losing it is harmless: only a crash of Postgres itself can lose it, and then the
-- job row is back as it was before the run started, so the run in flight holds a fence the row
-- does not have: its next lease renewal or its claim finds that and it writes nothing. WAL is
-- flushed in order, so any later durable commit (the claim, a failure) makes the start durable
-- too. Terminal decisions taken here (JOB_STALLED) stay synchronous.
do $migration$
declare
  v_src text;
  v_marker text := E'  update ao.jobs set\n    state = v_state,\n    run = run + 1,';
begin
  select pg_get_functiondef('ao.start_job_run(text, integer, integer, text)'::regprocedure) into v_src;
  if position('synchronous_commit' in v_src) = 0 then
    if position(v_marker in v_src) = 0 then
      raise exception 'ao.start_job_run does not have the shape this migration expects';
    end if;
    v_src := replace(v_src, v_marker,
      E'  perform set_config(''synchronous_commit'', ''off'', true);\n' || v_marker);
    execute v_src;
  end if;
end
$migration$;
