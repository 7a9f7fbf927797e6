import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real origin for claim checkouts: a bare repository with `main` and, per PR, its head under
 * `refs/pull/<n>/head` as GitHub keeps it — a same-repository PR also on its branch, a fork PR
 * only there (its commits are on no origin branch). `checkout` is a clone of it, the project.
 */
export interface GitOrigin {
  bare: string;
  checkout: string;
  /** publishes a PR's head; returns its commit */
  addPr(number: number, options?: { branch?: string; fork?: boolean }): string;
  git(cwd: string, ...args: string[]): string;
  remove(): Promise<void>;
}

export async function makeGitOrigin(): Promise<GitOrigin> {
  const root = await mkdtemp(join(tmpdir(), 'ao-origin-'));
  const bare = join(root, 'origin.git');
  const seed = join(root, 'seed');
  const checkout = join(root, 'checkout');
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=ao-test', '-c', 'user.email=test@ao.invalid', ...args], { cwd, stdio: 'pipe' }).toString().trim();
  git(root, 'init', '-q', '--bare', '-b', 'main', bare);
  git(root, 'init', '-q', '-b', 'main', seed);
  await writeFile(join(seed, 'README.md'), 'widgets\n');
  git(seed, 'add', 'README.md');
  git(seed, 'commit', '-q', '-m', 'initial');
  git(seed, 'push', '-q', bare, 'main');
  git(root, 'clone', '-q', bare, checkout);
  return {
    bare,
    checkout,
    git,
    addPr(number, options = {}) {
      const branch = options.branch ?? `feature/${number}`;
      git(seed, 'switch', '-q', '--create', `pr-${number}`, 'main');
      execFileSync('sh', ['-c', `echo "PR ${number}" > pr-${number}.txt`], { cwd: seed });
      git(seed, 'add', '.');
      git(seed, 'commit', '-q', '-m', `PR ${number}`);
      const sha = git(seed, 'rev-parse', 'HEAD');
      git(seed, 'push', '-q', bare, `HEAD:refs/pull/${number}/head`);
      if (!options.fork) git(seed, 'push', '-q', bare, `HEAD:refs/heads/${branch}`);
      git(seed, 'switch', '-q', 'main');
      return sha;
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
