import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A `git` on PATH that hangs in a chosen `git worktree <sub>` command, for killing a process
 * while it is in the middle of git work. `hold('remove')` makes the next `git worktree remove`
 * stop before doing anything; `hold('add')` lets `git worktree add` finish and then hang (a crash
 * after the worktree exists but before the caller records it). A held git exits by itself once
 * the process that ran it is gone, so nothing is left behind.
 */
export interface GitGate {
  /** PATH with the gate first, for a child process's environment */
  path: string;
  dir: string;
  hold(sub: 'add' | 'remove'): Promise<void>;
  /** resolves once a held command has been reached */
  reached(sub: 'add' | 'remove', timeoutMs?: number): Promise<void>;
  /**
   * The next `git <command>` runs, then waits (having exited with its real status pending) until
   * `release(command)`: the caller sees git done only then. For acting between two steps of git work.
   */
  pauseAfter(command: string): Promise<void>;
  /** resolves once a paused command has run */
  paused(command: string, timeoutMs?: number): Promise<void>;
  release(command: string): Promise<void>;
  remove(): Promise<void>;
}

export async function makeGitGate(): Promise<GitGate> {
  const dir = await mkdtemp(join(tmpdir(), 'ao-git-gate-'));
  const realGit = execFileSync('sh', ['-c', 'command -v git']).toString().trim();
  const script = `#!/bin/sh
if [ "$1" = worktree ] && [ -e "${dir}/hold-$2" ]; then
  rm -f "${dir}/hold-$2"
  if [ "$2" = add ]; then "${realGit}" "$@" || exit $?; fi
  touch "${dir}/reached-$2"
  while kill -0 $PPID 2>/dev/null; do sleep 0.05; done
  exit 1
fi
if [ -e "${dir}/pause-$1" ]; then
  rm -f "${dir}/pause-$1"
  "${realGit}" "$@"
  status=$?
  touch "${dir}/paused-$1"
  while [ ! -e "${dir}/release-$1" ]; do
    kill -0 $PPID 2>/dev/null || exit 1
    sleep 0.05
  done
  rm -f "${dir}/release-$1"
  exit $status
fi
exec "${realGit}" "$@"
`;
  await writeFile(join(dir, 'git'), script);
  await chmod(join(dir, 'git'), 0o755);
  return {
    dir,
    path: `${dir}${delimiter}${process.env.PATH ?? ''}`,
    hold: (sub) => writeFile(join(dir, `hold-${sub}`), ''),
    reached: (sub, timeoutMs = 15_000) => appears(join(dir, `reached-${sub}`), `git worktree ${sub}`, timeoutMs),
    async pauseAfter(command) {
      // an earlier pause of the same command leaves its marker: it must not answer for this one
      await rm(join(dir, `paused-${command}`), { force: true });
      await writeFile(join(dir, `pause-${command}`), '');
    },
    paused: (command, timeoutMs = 15_000) => appears(join(dir, `paused-${command}`), `git ${command}`, timeoutMs),
    release: (command) => writeFile(join(dir, `release-${command}`), ''),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

async function appears(file: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${what} was not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
