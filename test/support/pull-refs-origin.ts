import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes `origin` a bare repository that serves `refs/pull/<n>/head` for every n in `numbers`, as
 * GitHub does (all at one PR commit off `checkout`'s main, which is pushed there too), and has
 * `checkout` fetch each of `urls` from it through git's own `url.<base>.insteadOf`: a claim's
 * checkout then really fetches and switches, offline. Used by the tests' checkouts and the bench's.
 * The refs are written as one packed-refs file: thousands of them cost one write.
 */
export async function servePullRefs(opts: { checkout: string; origin: string; urls: string[]; numbers: Iterable<number> }): Promise<void> {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=ao-test', '-c', 'user.email=test@ao.invalid', ...args], { cwd, stdio: 'pipe' }).toString().trim();
  const { checkout, origin } = opts;
  git(checkout, 'init', '-q', '--bare', '-b', 'main', origin);
  for (const url of new Set(opts.urls)) git(checkout, 'config', '--add', `url.${origin}.insteadOf`, url);
  git(checkout, 'push', '-q', origin, 'main');
  const pr = git(checkout, 'commit-tree', '-p', 'main', '-m', 'the PR', git(checkout, 'rev-parse', 'main^{tree}'));
  git(checkout, 'push', '-q', origin, `${pr}:refs/pull/1/head`);
  const refs = [...new Set(opts.numbers)].map((n) => `refs/pull/${n}/head`).sort();
  await writeFile(join(origin, 'packed-refs'), `# pack-refs with: peeled fully-peeled sorted \n${refs.map((r) => `${pr} ${r}\n`).join('')}`);
  await rm(join(origin, 'refs', 'pull'), { recursive: true, force: true });
}
