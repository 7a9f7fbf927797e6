import { realpath, stat } from 'node:fs/promises';
import { AoError } from '../../core/errors.js';
import { git, GitError } from './git.js';

export interface Checkout {
  /** the work tree's top level, absolute and resolved */
  root: string;
  originUrl: string | null;
  defaultBranch: string;
}

/** What ao needs to know about a project's checkout; PROJECT_PATH_INVALID when it is not one. */
export async function inspectCheckout(path: string): Promise<Checkout> {
  const invalid = (why: string) => new AoError('PROJECT_PATH_INVALID', `${path} is not a git checkout: ${why}`, { path });
  try {
    if (!(await stat(path)).isDirectory()) throw invalid('not a directory');
  } catch (err) {
    if (err instanceof AoError) throw err;
    throw invalid('no such directory');
  }
  let root: string;
  try {
    root = await realpath(await git(path, ['rev-parse', '--show-toplevel']));
  } catch (err) {
    if (err instanceof GitError) throw invalid('not inside a git work tree');
    throw err;
  }
  const originUrl = await git(root, ['remote', 'get-url', 'origin']).catch(() => null);
  return { root, originUrl: originUrl || null, defaultBranch: await defaultBranchOf(root) };
}

async function defaultBranchOf(root: string): Promise<string> {
  const originHead = await git(root, ['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD']).catch(() => '');
  if (originHead.startsWith('origin/')) return originHead.slice('origin/'.length);
  const current = await git(root, ['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '');
  return current || 'main';
}
