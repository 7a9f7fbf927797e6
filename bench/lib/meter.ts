import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type postgres from 'postgres';
import type { Redis } from 'ioredis';

/**
 * What a phase costs: CPU seconds per process (group) and peak RSS, read from /proc.
 *
 *  - named processes the bench spawned (ao, the GitHub stand-in, the bare route): utime+stime
 *    from /proc/<pid>/stat at the start and end of the phase; VmRSS sampled every `intervalMs`
 *    (peak of the samples);
 *  - `bench`: this process (the load generators), from process.cpuUsage();
 *  - `postgres`: the backends connected to the bench database (pg_stat_activity.datname), polled
 *    every `intervalMs`; a backend first seen during the phase counts from 0 (it was forked
 *    during the phase), one that ends mid-phase counts up to its last sample;
 *  - `postgres-aux`: the server-wide background processes (walwriter, checkpointer, background
 *    writer, autovacuum launcher): shared with every other database on the server;
 *  - `redis`: used_cpu_user + used_cpu_sys from INFO: server-wide (other users of the Redis count);
 *  - transient pids (pgbench) added with addPid, up to their last sample;
 *  - round trips: transactions of the bench database (pg_stat_database.xact_commit +
 *    xact_rollback; every autocommit statement is one) and Redis commands (server-wide).
 */

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a process in seconds; null once it is gone. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces: fields are counted after its closing paren
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM (peak RSS over the process's life) in MB; null once it is gone. */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

export interface PhaseUsage {
  wallSeconds: number;
  cpuSeconds: Record<string, number>;
  peakRssMb: Record<string, number>;
  /** transactions committed or rolled back in the bench database (pg_stat_database) */
  pgTransactions: number;
  /** commands Redis processed (INFO stats; server-wide) */
  redisCommands: number;
  /** CPU seconds the whole machine spent (/proc/stat), this bench's processes or not */
  machineSeconds: number;
}

/** busy CPU seconds of the whole machine since boot (/proc/stat: all but idle and iowait) */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

interface Counter {
  group: string;
  first: number;
  last: number;
}

const AUX_BACKENDS = new Set(['walwriter', 'checkpointer', 'background writer', 'autovacuum launcher', 'logical replication launcher']);

export class Meter {
  private processes = new Map<string, number>();
  private transient = new Map<number, Counter>();
  private pgCounters = new Map<number, Counter>();
  private startCpu = new Map<string, number>();
  private peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private startedAt = 0;
  private selfCpu: NodeJS.CpuUsage = process.cpuUsage();
  private redisCpu0 = 0;
  private pgTx0 = 0;
  private redisCmd0 = 0;
  private machine0 = 0;
  private settle = false;

  constructor(
    private readonly admin: postgres.Sql,
    private readonly database: string,
    private readonly redis: Redis,
    private readonly intervalMs = 500,
  ) {}

  /** the processes to account for from now on (name → pid) */
  setProcesses(processes: Record<string, number>): void {
    this.processes = new Map(Object.entries(processes));
  }

  addPid(group: string, pid: number): void {
    const now = cpuSecondsOf(pid) ?? 0;
    this.transient.set(pid, { group, first: now, last: now });
  }

  /**
   * `settle`: wait 1.1 s before reading the transaction count at the start and the end, so that
   * every backend has flushed its counters (Postgres 15 flushes them within a second of going
   * idle); without it the count is off by up to a second's worth of transactions.
   */
  async begin(options: { settle?: boolean } = {}): Promise<void> {
    this.settle = options.settle ?? false;
    if (this.settle) await new Promise((resolve) => setTimeout(resolve, 1100));
    this.startedAt = performance.now();
    this.machine0 = machineBusySeconds();
    this.startCpu.clear();
    this.peaks.clear();
    this.transient.clear();
    this.pgCounters.clear();
    for (const [name, pid] of this.processes) this.startCpu.set(name, cpuSecondsOf(pid) ?? 0);
    this.selfCpu = process.cpuUsage();
    this.redisCpu0 = await this.redisCpu();
    this.redisCmd0 = await this.redisCommands();
    this.pgTx0 = await this.pgTransactions();
    await this.poll(true);
    this.timer = setInterval(() => void this.poll(false), this.intervalMs);
  }

  async end(): Promise<PhaseUsage> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.polling) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.poll(false);
    const cpu: Record<string, number> = {};
    const add = (group: string, seconds: number) => (cpu[group] = (cpu[group] ?? 0) + Math.max(0, seconds));
    for (const [name, pid] of this.processes) add(name, (cpuSecondsOf(pid) ?? this.startCpu.get(name) ?? 0) - (this.startCpu.get(name) ?? 0));
    for (const c of this.transient.values()) add(c.group, c.last - c.first);
    for (const c of this.pgCounters.values()) add(c.group, c.last - c.first);
    const self = process.cpuUsage(this.selfCpu);
    add('bench', (self.user + self.system) / 1e6);
    add('redis', (await this.redisCpu()) - this.redisCpu0);
    const machineSeconds = machineBusySeconds() - this.machine0;
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    if (this.settle) await new Promise((resolve) => setTimeout(resolve, 1100));
    return {
      wallSeconds,
      machineSeconds,
      cpuSeconds: cpu,
      peakRssMb: Object.fromEntries(this.peaks),
      pgTransactions: (await this.pgTransactions()) - this.pgTx0,
      redisCommands: (await this.redisCommands()) - this.redisCmd0,
    };
  }

  private async pgTransactions(): Promise<number> {
    // backends flush their counters within a second of going idle (Postgres 15): take a fresh snapshot
    const [row] = await this.admin<[{ n: string | null }?]>`
      select pg_stat_clear_snapshot(), (select xact_commit + xact_rollback from pg_stat_database where datname = ${this.database})::text as n`;
    return Number(row?.n ?? 0);
  }

  private async redisCommands(): Promise<number> {
    const info = await this.redis.info('stats');
    return Number(/^total_commands_processed:(\d+)/m.exec(info)?.[1] ?? 0);
  }

  private async redisCpu(): Promise<number> {
    const info = await this.redis.info('cpu');
    const value = (key: string) => Number(new RegExp(`^${key}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
    return value('used_cpu_user') + value('used_cpu_sys');
  }

  private async poll(initial: boolean): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [name, pid] of this.processes) {
        const mem = memoryOf(pid);
        if (mem) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, mem.rssMb));
      }
      this.peaks.set('bench', Math.max(this.peaks.get('bench') ?? 0, process.memoryUsage().rss / 2 ** 20));
      for (const [pid, c] of this.transient) c.last = cpuSecondsOf(pid) ?? c.last;
      const rows = await this.admin<Array<{ pid: number; datname: string | null; backend_type: string }>>`
        select pid, datname, backend_type from pg_stat_activity where pid <> pg_backend_pid()`;
      for (const row of rows) {
        const group = row.datname === this.database ? 'postgres' : AUX_BACKENDS.has(row.backend_type) ? 'postgres-aux' : null;
        if (!group) continue;
        const now = cpuSecondsOf(row.pid);
        if (now === null) continue;
        const known = this.pgCounters.get(row.pid);
        if (known) known.last = now;
        // a backend that exists when the phase begins counts from now; one that appears later was forked during it
        else this.pgCounters.set(row.pid, { group, first: initial || group === 'postgres-aux' ? now : 0, last: now });
      }
    } catch {
      // a failed sample is skipped; the next one catches up
    } finally {
      this.polling = false;
    }
  }
}
