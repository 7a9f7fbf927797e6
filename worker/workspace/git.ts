import { execFile } from 'node:child_process';

export class GitError extends Error {
  override name = 'GitError';
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed (${exitCode ?? 'signal'}): ${stderr.trim() || 'no output'}`);
  }
}

/**
 * Runs git without a shell. Prompts are off (a missing credential fails instead of hanging) and
 * messages are in the C locale so callers can recognise them.
 */
export function git(cwd: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
  return run(cwd, 'git', args, args, options);
}

/**
 * Several git commands in one `sh -c` (the script's arguments are `$1`…, never pasted into it).
 * Starting a process costs the worker a fork of its whole address space; a shell forks git far
 * more cheaply, so a sequence that always runs together is one process for Node.
 */
export function gitScript(cwd: string, script: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
  return run(cwd, 'sh', ['-c', script, 'sh', ...args], ['(script)', ...args], options);
}

/**
 * git reads every worktree's admin dir (`.git/worktrees/<name>`) for many commands, and fails on
 * one that a concurrent `git worktree add` has made but not yet filled. Worktrees are added and
 * removed one at a time per checkout (worker/host-ops.ts); a command of another claim that meets
 * a half-made one fails before it changes anything and is run again.
 */
const HALF_MADE_WORKTREE = /failed to read .*worktrees\/[^/]+\/(commondir|gitdir)/;

async function run(cwd: string, file: string, argv: readonly string[], shown: readonly string[], options: { timeoutMs?: number }): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(cwd, file, argv, shown, options);
    } catch (err) {
      if (!(err instanceof GitError) || !HALF_MADE_WORKTREE.test(err.stderr) || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

function runOnce(cwd: string, file: string, argv: readonly string[], shown: readonly string[], options: { timeoutMs?: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...argv],
      {
        cwd,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', LANG: 'C' },
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new GitError(shown, code, String(stderr || err.message)));
        } else {
          resolve(String(stdout).trim());
        }
      },
    );
  });
}

/** true when `git args` exits 0 */
export async function gitSucceeds(cwd: string, args: readonly string[]): Promise<boolean> {
  try {
    await git(cwd, args);
    return true;
  } catch (err) {
    if (err instanceof GitError) return false;
    throw err;
  }
}
