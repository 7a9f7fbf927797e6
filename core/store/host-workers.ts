import type { Db } from '../db/connect.js';

/** A worker process that has not written its heartbeat for this long is taken for dead. */
export const HOST_WORKER_STALE_SECONDS = 15;

/** The worker `workerId` of `host` is alive now (upsert). */
export async function beatHostWorker(db: Db, worker: { workerId: string; host: string; pid: number }): Promise<void> {
  await db`
    insert into ao.host_workers (worker_id, host, pid) values (${worker.workerId}, ${worker.host}, ${worker.pid})
    on conflict (worker_id) do update set last_seen_at = now()`;
}

/** A worker that stops says so; one that dies just goes stale. Stale rows of its host go too. */
export async function removeHostWorker(db: Db, workerId: string): Promise<void> {
  await db`
    delete from ao.host_workers
    where worker_id = ${workerId}
       or last_seen_at < now() - make_interval(secs => ${HOST_WORKER_STALE_SECONDS * 20})`;
}

export async function hostHasLiveWorker(db: Db, host: string): Promise<boolean> {
  const [row] = await db<[{ alive: boolean }]>`
    select exists (
      select 1 from ao.host_workers
      where host = ${host} and last_seen_at > now() - make_interval(secs => ${HOST_WORKER_STALE_SECONDS})
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
      (count(*) filter (where last_seen_at > now() - make_interval(secs => ${HOST_WORKER_STALE_SECONDS})))::int as workers,
      ao.iso(max(last_seen_at)) as "lastSeenAt"
    from ao.host_workers group by host order by host`;
}
