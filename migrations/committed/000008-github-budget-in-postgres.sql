--! Previous: sha1:b0eb5397d8604f7cb101b8619da3533cbc7214d0
--! Hash: sha1:84732d332fb419d56730944384d5ee69fdd3e01b
--! Message: github budget in postgres

-- Zero-dependency mode: the shared GitHub budget (SPEC §6) in Postgres, for deployments without
-- Redis (core/github-budget-postgres.ts). Same semantics as the Redis store's scripts
-- (core/github-budget.ts), one row of each table per AO_QUEUE_PREFIX, so deployments or test runs
-- with different prefixes sharing a database keep budgets of their own.
--
-- Both tables are UNLOGGED: they only cache what GitHub last said, and its next answer rebuilds
-- that. Every GitHub answer writes here, so skipping the WAL is worth it; after a crash they come
-- back empty, which admits the first request, whose answer fills the budget again (and the
-- requests then in flight died with the server anyway). They are not replicated to standbys,
-- which read nothing of them.

create unlogged table if not exists ao.github_budget (
  prefix text primary key,
  -- GitHub's numbers as given, doubles like the Lua numbers of the Redis store, so that both
  -- compare and round (the reserve's ceil) alike
  rate_limit double precision,
  remaining double precision,
  -- the window's resetAt in whole epoch seconds: windows are ordered by it
  reset_epoch bigint,
  -- resetAt as GitHub wrote it, handed back as is
  reset_at text,
  blocked_until timestamptz,
  -- answers recorded and the points they cost, for GET /metrics
  requests bigint not null default 0,
  points bigint not null default 0,
  -- a window is known whole or not at all (block() alone makes a row without one)
  constraint github_budget_window check (
    (rate_limit is null) = (remaining is null) and (remaining is null) = (reset_epoch is null)
    and (reset_epoch is null) = (reset_at is null))
);

-- One row per in-flight batch request of a token (named by a hash, never the token): a semaphore
-- of expiring slots, so the slot of a process that died is free again at its expiry.
create unlogged table if not exists ao.github_inflight (
  prefix text not null,
  token_key text not null,
  holder uuid not null,
  expires_at timestamptz not null,
  primary key (prefix, token_key, holder)
);

-- Whether a batch request of p_cost points may go now: 'ok' (and p_cost is taken off remaining),
-- 'blocked' (until blocked_until_ms, epoch ms) or 'reserve' (until reset_at). The row lock puts
-- the admissions of all processes one after another, so together they cannot spend into the
-- reserve.
create or replace function ao.github_budget_admit(p_prefix text, p_cost double precision,
  p_reserve_percent double precision, out verdict text, out blocked_until_ms double precision,
  out reset_at text)
language plpgsql volatile
as $function$
declare
  v ao.github_budget;
  v_now timestamptz;
begin
  select * into v from ao.github_budget b where b.prefix = p_prefix for update;
  -- read after the lock: the time spent waiting for it has passed
  v_now := clock_timestamp();
  if v.blocked_until > v_now then
    verdict := 'blocked';
    blocked_until_ms := round(extract(epoch from v.blocked_until) * 1000);
    return;
  end if;
  -- nothing known yet, or the window GitHub reported has reset since: the first answer will tell
  if v.rate_limit is null or to_timestamp(v.reset_epoch) <= v_now then
    verdict := 'ok';
    return;
  end if;
  if v.remaining - p_cost < ceil(v.rate_limit * p_reserve_percent / 100) then
    verdict := 'reserve';
    reset_at := v.reset_at;
    return;
  end if;
  update ao.github_budget b set remaining = v.remaining - p_cost where b.prefix = p_prefix;
  verdict := 'ok';
end;
$function$;

-- Takes one of the token's at most p_max slots for p_holder for p_ttl_ms: 0 when taken, else the
-- ms until the first slot held expires (the latest the caller should look again).
create or replace function ao.github_acquire_slot(p_prefix text, p_token_key text, p_holder uuid,
  p_max integer, p_ttl_ms double precision)
returns double precision
language plpgsql volatile
as $function$
declare
  v_now timestamptz;
  v_held integer;
  v_first timestamptz;
begin
  -- counting the slots held and taking one must not interleave with another process doing the
  -- same; a token with no slot held has no row to lock, hence an advisory lock on the token
  perform pg_advisory_xact_lock(hashtextextended('ao.github_inflight|' || p_prefix || '|' || p_token_key, 2));
  v_now := clock_timestamp();
  delete from ao.github_inflight s
  where s.prefix = p_prefix and s.token_key = p_token_key and s.expires_at <= v_now;
  select count(*), min(s.expires_at) into v_held, v_first
  from ao.github_inflight s where s.prefix = p_prefix and s.token_key = p_token_key;
  if v_held < p_max then
    insert into ao.github_inflight (prefix, token_key, holder, expires_at)
    values (p_prefix, p_token_key, p_holder, v_now + make_interval(secs => p_ttl_ms / 1000))
    on conflict (prefix, token_key, holder) do update set expires_at = excluded.expires_at;
    return 0;
  end if;
  return greatest(1, ceil(extract(epoch from v_first - v_now) * 1000));
end;
$function$;
