import { readdirSync, readFileSync } from 'node:fs';

/**
 * Processes seen under a root process, read from /proc (Linux), so a test can assert that none of
 * them survives. A process is identified by pid and start time (a pid may be reused); a zombie
 * counts as gone. `sample()` while the root runs: a child reparented to init after its parent
 * died is no longer found under the root.
 */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** start time in clock ticks since boot: with the pid, it names one process */
  start: string;
  state: string;
  cmdline: string;
}

function readProcess(pid: number): ProcessInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: fields resume after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return { pid, ppid: Number(fields[1]), state: fields[0] ?? '?', start: fields[19] ?? '', cmdline };
  } catch {
    return null;
  }
}

export function allProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcess(Number(name));
    if (info) out.push(info);
  }
  return out;
}

export class ProcessTree {
  readonly seen = new Map<number, ProcessInfo>();

  constructor(readonly rootPid: number) {}

  /** adds every live descendant of the root (not the root itself) */
  sample(): ProcessInfo[] {
    const all = allProcesses();
    const children = new Map<number, ProcessInfo[]>();
    for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const found: ProcessInfo[] = [];
    const stack = [this.rootPid];
    while (stack.length > 0) {
      for (const child of children.get(stack.pop() as number) ?? []) {
        if (child.state === 'Z') continue;
        found.push(child);
        // an exiting process reads an empty cmdline (its memory is gone before it is a zombie): keep
        // what an earlier sample of the same process read
        const known = this.seen.get(child.pid);
        const keep = child.cmdline === '' && known?.start === child.start;
        this.seen.set(child.pid, keep ? { ...child, cmdline: known.cmdline } : child);
        stack.push(child.pid);
      }
    }
    return found;
  }

  /** the processes seen that still run (the same pid and start time, not a zombie) */
  alive(): ProcessInfo[] {
    return [...this.seen.values()].filter((p) => {
      const now = readProcess(p.pid);
      return now !== null && now.start === p.start && now.state !== 'Z';
    });
  }

  /** polls until every process seen is gone; throws with the survivors at the deadline */
  async allGone(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = this.alive();
      if (left.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`still running after ${timeoutMs} ms:\n${left.map((p) => `  ${p.pid} ${p.cmdline}`).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILLs whatever is left (cleanup after a failed test; only processes this tree saw) */
  killLeft(): void {
    for (const p of this.alive()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}
