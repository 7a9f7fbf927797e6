import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AoError } from '../../core/errors.js';
import { isValidBranchName } from '../../core/branch-name.js';
import { git, GitError, gitSucceeds } from './git.js';

interface WorktreeEntry {
  path: string;
  branch: string | null;
}

async function listWorktrees(checkout: string): Promise<WorktreeEntry[]> {
  const out = await git(checkout, ['worktree', 'list', '--porcelain']);
  const entries: WorktreeEntry[] = [];
  for (const block of out.split('\n\n')) {
    const path = /^worktree (.+)$/m.exec(block)?.[1];
    if (!path) continue;
    const ref = /^branch (.+)$/m.exec(block)?.[1];
    entries.push({ path, branch: ref ? ref.replace(/^refs\/heads\//, '') : null });
  }
  return entries;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * A worktree of `checkout` at `path` on `branch`: the local branch when it exists, else a new one
 * from the first of origin/<branch>, origin/<baseBranch>, <baseBranch>, HEAD. Re-creating the
 * same worktree is a no-op, so a retried request does not fail.
 */
export async function createWorktree(opts: {
  checkout: string;
  path: string;
  branch: string;
  baseBranch: string;
}): Promise<{ path: string; branch: string; created: 'new-branch' | 'existing-branch' | 'existing-worktree' }> {
  const path = resolve(opts.path);
  if (!isValidBranchName(opts.branch)) {
    throw new AoError('BRANCH_INVALID', `${JSON.stringify(opts.branch)} is not a valid branch name`, { branch: opts.branch });
  }
  const worktrees = await listWorktrees(opts.checkout);
  const same = worktrees.find((w) => w.path === path);
  if (same && same.branch === opts.branch) return { path, branch: opts.branch, created: 'existing-worktree' };
  if (same || (await exists(path))) {
    throw new AoError('WORKSPACE_FAILED', `${path} already exists and is not a worktree of ${opts.branch}`, { path });
  }
  const elsewhere = worktrees.find((w) => w.branch === opts.branch);
  if (elsewhere) {
    throw new AoError('BRANCH_CHECKED_OUT_ELSEWHERE', `branch ${opts.branch} is checked out in ${elsewhere.path}`, {
      branch: opts.branch,
      worktree: elsewhere.path,
    });
  }
  await mkdir(dirname(path), { recursive: true });
  try {
    if (await gitSucceeds(opts.checkout, ['show-ref', '--verify', '--quiet', `refs/heads/${opts.branch}`])) {
      await git(opts.checkout, ['worktree', 'add', path, opts.branch]);
      return { path, branch: opts.branch, created: 'existing-branch' };
    }
    const base = await firstExistingRef(opts.checkout, [`origin/${opts.branch}`, `origin/${opts.baseBranch}`, opts.baseBranch, 'HEAD']);
    await git(opts.checkout, ['worktree', 'add', '--no-track', '-b', opts.branch, path, base]);
    return { path, branch: opts.branch, created: 'new-branch' };
  } catch (err) {
    if (err instanceof GitError) {
      throw new AoError('WORKSPACE_FAILED', `could not create the worktree ${path}: ${err.stderr.trim()}`, { path, stderr: err.stderr });
    }
    throw err;
  }
}

async function firstExistingRef(checkout: string, refs: string[]): Promise<string> {
  for (const ref of refs) {
    if (await gitSucceeds(checkout, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])) return ref;
  }
  throw new AoError('WORKSPACE_FAILED', `none of ${refs.join(', ')} names a commit in ${checkout}`, { checkout });
}

/**
 * Removes a session's worktree. A dirty one is refused unless forced; one that is already gone is
 * pruned (idempotent). `deleteBranch` is deleted only when git agrees it is merged (`-d`): work
 * that exists nowhere else is never thrown away.
 */
export async function removeWorktree(opts: {
  checkout: string;
  path: string;
  force: boolean;
  deleteBranch?: string;
}): Promise<{ removed: boolean }> {
  let removed = false;
  if (await exists(opts.path)) {
    if (!opts.force) {
      const changes = await git(opts.path, ['status', '--porcelain', '--untracked-files=normal']).catch(() => '');
      if (changes !== '') {
        throw new AoError('WORKSPACE_DIRTY', `workspace ${opts.path} has uncommitted changes; pass force to discard them`, {
          path: opts.path,
          changes: changes.split('\n').slice(0, 20),
        });
      }
    }
    try {
      await git(opts.checkout, ['worktree', 'remove', ...(opts.force ? ['--force', '--force'] : []), opts.path]);
      removed = true;
    } catch (err) {
      if (err instanceof GitError) {
        throw new AoError('WORKSPACE_FAILED', `could not remove the worktree ${opts.path}: ${err.stderr.trim()}`, { path: opts.path });
      }
      throw err;
    }
  } else {
    await git(opts.checkout, ['worktree', 'prune']).catch(() => '');
  }
  if (opts.deleteBranch) await git(opts.checkout, ['branch', '-d', opts.deleteBranch]).catch(() => '');
  return { removed };
}
