import type { Db } from '../db/connect.js';

/** A worker process that has not written its heartbeat for this long is taken for dead. */
export const HOST_WORKER_STALE_SECONDS = 15;

/** The worker `workerId` of `host` is alive now (upsert). */
export async function beatHostWorker(db: Db, worker: { workerId: string; host: string; pid: number }): Promise<void> {
  await db`
    insert into ao.host_workers (worker_id, host, pid) values (${worker.workerId}, ${worker.host}, ${worker.pid})
    on conflict (worker_id) do update set last_seen_at = now(), stopped_at = null`;
}

/**
 * A worker that stops says so (its host stays listed, with when it was last seen); one that dies
 * just goes stale. Rows of workers gone for a day are deleted.
 */
export async function stopHostWorker(db: Db, workerId: string): Promise<void> {
  await db`update ao.host_workers set stopped_at = now(), last_seen_at = now() where worker_id = ${workerId}`;
  await db`delete from ao.host_workers where last_seen_at < now() - interval '1 day'`;
}

const LIVE = (db: Db) => db`stopped_at is null and last_seen_at > now() - make_interval(secs => ${HOST_WORKER_STALE_SECONDS})`;

export async function hostHasLiveWorker(db: Db, host: string): Promise<boolean> {
  const [row] = await db<[{ alive: boolean }]>`
    select exists (
      select 1 from ao.host_workers where host = ${host} and ${LIVE(db)}
    ) as alive`;
  return row.alive;
}

export interface HostSummary {
  id: string;
  /** live worker processes */
  workers: number;
  lastSeenAt: string;
}

/** Every host a worker has been seen on lately, with its live workers. */
export async function listHosts(db: Db): Promise<HostSummary[]> {
  return db<HostSummary[]>`
    select host as id,
      (count(*) filter (where ${LIVE(db)}))::int as workers,
      ao.iso(max(last_seen_at)) as "lastSeenAt"
    from ao.host_workers group by host order by host`;
}

/** Every host ao knows: those with a worker seen lately and those holding a project. */
export async function listHostIds(db: Db): Promise<string[]> {
  const rows = await db<Array<{ host: string }>>`
    select host from ao.host_workers union select host from ao.projects where host <> '' order by 1`;
  return rows.map((r) => r.host);
}
