import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type postgres from 'postgres';
import { servePullRefs } from '../../test/support/pull-refs-origin.js';

const run = promisify(execFile);

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-c', 'user.name=ao-bench', '-c', 'user.email=bench@ao.invalid', ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

/**
 * The bench project's disk, as a user's would be: a checkout whose `origin` is named as GitHub but
 * fetched from a local bare repository that serves `refs/pull/<n>/head` for every bench PR (the
 * tests' servePullRefs), and one worktree per session on `ao/<id>/root`. So an
 * end-to-end claim does the git work a real one does: fetch the PR head, switch the worktree,
 * send a donor back to its root branch.
 */
export interface BenchCheckout {
  path: string;
  worktreeOf(sessionId: string): string;
  addWorktrees(sessionIds: string[]): Promise<void>;
  /** every session whose worktree a claim moved goes back to its root branch (before each measured run) */
  resetWorktrees(db: postgres.Sql): Promise<number>;
}

export async function makeBenchCheckout(dir: string, repoUrl: string, prNumbers: number[]): Promise<BenchCheckout> {
  const path = join(dir, 'checkout');
  const origin = join(dir, 'origin.git');
  const worktrees = join(dir, 'worktrees');
  mkdirSync(worktrees, { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main', path);
  await git(path, 'commit', '-q', '--allow-empty', '-m', 'initial');
  await servePullRefs({ checkout: path, origin, urls: [`${repoUrl}.git`], numbers: prNumbers });
  await git(path, 'remote', 'add', 'origin', `${repoUrl}.git`);
  await git(path, 'fetch', '-q', 'origin');
  const worktreeOf = (sessionId: string) => join(worktrees, sessionId);
  return {
    path,
    worktreeOf,
    // one at a time: `git worktree add` takes the repository's locks
    addWorktrees: (ids) => inBatches(ids, 1, (id) => git(path, 'worktree', 'add', '-q', '--no-track', '-b', `ao/${id}/root`, worktreeOf(id), 'origin/main')),
    async resetWorktrees(db) {
      const moved = await db<Array<{ id: string }>>`
        select id from ao.sessions where branch <> 'ao/' || id || '/root' and host = 'bench'`;
      await inBatches(moved, 4, ({ id }) => git(worktreeOf(id), 'switch', '-q', `ao/${id}/root`));
      await db`update ao.sessions set branch = 'ao/' || id || '/root' where id = any(${moved.map((m) => m.id)})`;
      return moved.length;
    },
  };
}
