import { realpath, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { AoError } from '../../core/errors.js';
import { git, GitError } from './git.js';

export interface Checkout {
  /** the work tree's top level, absolute and resolved */
  root: string;
  originUrl: string | null;
  defaultBranch: string;
}

/**
 * What ao needs to know about a project's checkout. `path` must be absolute (a relative one would
 * resolve against wherever the server happens to run) and the top level of a git work tree, not
 * a folder inside one; otherwise PROJECT_PATH_INVALID says why.
 */
export async function inspectCheckout(path: string): Promise<Checkout> {
  const shown = JSON.stringify(path);
  const invalid = (why: string, details: Record<string, unknown> = {}) =>
    new AoError('PROJECT_PATH_INVALID', `${shown} is not a git checkout: ${why}`, { path, ...details });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw invalid('it contains control characters');
  if (!isAbsolute(path)) {
    throw new AoError('PROJECT_PATH_INVALID', `${shown} is not an absolute path: give the checkout's absolute path`, { path });
  }
  let resolved: string;
  try {
    resolved = await realpath(path);
    if (!(await stat(resolved)).isDirectory()) throw invalid('not a directory');
  } catch (err) {
    if (err instanceof AoError) throw err;
    throw invalid('no such directory');
  }
  let root: string;
  try {
    root = await realpath(await git(resolved, ['rev-parse', '--show-toplevel']));
  } catch (err) {
    if (err instanceof GitError) throw invalid('not inside a git work tree');
    throw err;
  }
  if (root !== resolved) {
    throw new AoError('PROJECT_PATH_INVALID', `${shown} is inside the git checkout ${root}, not its top level: register ${root}`, {
      path,
      topLevel: root,
    });
  }
  // as configured, not as url.<base>.insteadOf rewrites it for fetching (a mirror, a local copy)
  const originUrl = await git(root, ['config', '--get', 'remote.origin.url']).catch(() => null);
  return { root, originUrl: originUrl || null, defaultBranch: await defaultBranchOf(root) };
}

async function defaultBranchOf(root: string): Promise<string> {
  const originHead = await git(root, ['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD']).catch(() => '');
  if (originHead.startsWith('origin/')) return originHead.slice('origin/'.length);
  const current = await git(root, ['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '');
  return current || 'main';
}
