--! Previous: sha1:5601c6d3afc840d2adbc586484214e78aeb50d43
--! Hash: sha1:ea83d15ab1e78e5c5fdc57e07afab56aefd8a63c
--! Message: job creation

-- Job creation with idempotency keys, in one round trip.
--
-- ao.create_job(…) inserts a queued job, or, when the same idempotency key was used before in
-- the same scope, returns the job that key created: {"job": Job, "created": bool,
-- "conflict": bool}. `conflict` is true when the key was used with a different request
-- (p_request_hash differs): nothing is written then. Keys are serialised by a per-key advisory
-- lock, so two requests racing with one key produce one job.

drop function if exists ao.create_job(text, text, text, text, jsonb, text, text, text);

create function ao.create_job(
  p_id text, p_kind text, p_session_id text, p_project_id text, p_request jsonb,
  p_idempotency_scope text, p_idempotency_key text, p_request_hash text)
returns jsonb
language plpgsql volatile
as $$
declare
  v_key ao.idempotency_keys;
  v_job ao.jobs;
begin
  if p_idempotency_key is not null then
    perform pg_advisory_xact_lock(hashtextextended(p_idempotency_scope || '|' || p_idempotency_key, 1));
    select * into v_key from ao.idempotency_keys
    where scope = p_idempotency_scope and key = p_idempotency_key;
    if found then
      select * into v_job from ao.jobs where id = v_key.job_id;
      return jsonb_build_object('job', ao.job_json(v_job), 'created', false,
        'conflict', v_key.request_hash <> p_request_hash);
    end if;
  end if;

  insert into ao.jobs (id, kind, session_id, project_id, request)
  values (p_id, p_kind, p_session_id, p_project_id, p_request)
  returning * into v_job;

  if p_idempotency_key is not null then
    insert into ao.idempotency_keys (scope, key, request_hash, job_id)
    values (p_idempotency_scope, p_idempotency_key, p_request_hash, p_id);
  end if;

  return jsonb_build_object('job', ao.job_json(v_job), 'created', true, 'conflict', false);
end
$$;
