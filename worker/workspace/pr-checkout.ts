import { resolve } from 'node:path';
import { AoError } from '../../core/errors.js';
import { git, GitError, gitSucceeds } from './git.js';
import { currentBranch, isDirty, listWorktrees } from './worktree.js';

/** What GitHub says about a PR's head: enough to check it out and to know where it may be pushed. */
export interface PrHead {
  number: number;
  headBranch: string;
  /** owner/name of the head repository; "" when the fork was deleted */
  headRepository: string;
  isCrossRepository: boolean;
  maintainerCanModify: boolean;
}

/** Who holds a worktree another session's claim needs the branch of, and whether it may be moved. */
export interface WorktreeHolder {
  sessionId: string;
  /** its own branch (`ao/<session>/root`), where it goes back to */
  rootBranch: string;
  /** the donor being taken over, or a terminated session: its worktree may leave the branch */
  movable: boolean;
}

export interface PrCheckout {
  /** the local branch the worktree is on now */
  branch: string;
  /** true only when the worktree really moved to another branch */
  branchChanged: boolean;
  /** `origin` for a same-repository PR, the fork (owner/name) when its maintainers may push, else null */
  pushTarget: string | null;
  /** a session whose worktree was moved back to its root branch to free the PR's branch */
  donorMoved: { sessionId: string; branch: string } | null;
  /**
   * Puts both worktrees back where they were (the claim transaction refused after the switch).
   * Best effort: what could not be put back is returned, for the job's log.
   */
  undo(): Promise<string[]>;
}

/**
 * The local branch a PR is checked out on: the head branch's own name for a same-repository PR
 * (pushing it updates the PR); `pr/<n>/<head>` for a fork, whose head name may collide with any
 * branch of origin.
 */
export function localBranchFor(pr: PrHead): string {
  return pr.isCrossRepository ? `pr/${pr.number}/${pr.headBranch}` : pr.headBranch;
}

export function pushTargetFor(pr: PrHead): string | null {
  if (!pr.isCrossRepository) return 'origin';
  return pr.maintainerCanModify && pr.headRepository !== '' ? pr.headRepository : null;
}

/** The private ref a PR's head is fetched into: never a branch, which git refuses to update while checked out. */
export const fetchedRefFor = (pr: PrHead) => `refs/ao/pull/${pr.number}`;

/**
 * Moves a session's worktree onto a PR's head (SPEC §3.5, issue 13). `refs/pull/<n>/head` is
 * fetched from the project's origin, so a fork PR's commits (on no origin branch) arrive too.
 * Refuses, changing nothing, when the worktree has uncommitted changes (WORKSPACE_DIRTY) or when
 * the branch is checked out in a worktree that may not give it up (BRANCH_CHECKED_OUT_ELSEWHERE);
 * a clean donor being taken over is moved back to its root branch first. A local branch that
 * already exists is fast-forwarded when it can be, and otherwise kept as it is: commits that
 * exist nowhere else are never thrown away.
 */
export async function checkoutPr(opts: {
  /** the project's checkout (the worktrees' common repository) */
  checkout: string;
  /** the claimant's worktree */
  worktree: string;
  pr: PrHead;
  /** where the PR's refs are fetched from when the checkout has no `origin` remote (the project's repository URL) */
  fallbackRemote: string;
  holderOf(path: string): Promise<WorktreeHolder | null>;
  /**
   * Runs the part that changes the repository (branches, config, switches). Callers serialise it
   * per checkout: git takes repository-wide locks there. Reads and the fetch (into a ref of its
   * own) run outside it.
   */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
}): Promise<PrCheckout> {
  const exclusive = opts.exclusive ?? (<T>(work: () => Promise<T>) => work());
  const worktree = resolve(opts.worktree);
  const branch = localBranchFor(opts.pr);
  const pushTarget = pushTargetFor(opts.pr);
  await refuseDirty(worktree);

  const fetched = fetchedRefFor(opts.pr);
  const remote = (await gitSucceeds(opts.checkout, ['remote', 'get-url', 'origin'])) ? 'origin' : opts.fallbackRemote;
  await fetchPrHead(opts.checkout, remote, opts.pr.number, fetched);
  const previous = (await currentBranch(worktree)) || (await git(worktree, ['rev-parse', 'HEAD']));
  if (previous === branch) {
    // already there: catch up with the PR when that loses nothing
    await gitSucceeds(worktree, ['merge', '--ff-only', '--quiet', fetched]);
    return { branch, branchChanged: false, pushTarget, donorMoved: null, undo: async () => [] };
  }

  const { donorMoved, existed } = await exclusive(async () => {
    const holderPath = (await listWorktrees(opts.checkout)).find((w) => w.branch === branch && resolve(w.path) !== worktree)?.path;
    let donorMoved: { sessionId: string; branch: string; path: string } | null = null;
    if (holderPath) {
      const holder = await opts.holderOf(resolve(holderPath));
      const elsewhere = (why: string) =>
        new AoError('BRANCH_CHECKED_OUT_ELSEWHERE', `branch ${branch} is checked out in ${holderPath}${why}`, {
          branch,
          worktree: holderPath,
          ...(holder ? { sessionId: holder.sessionId } : {}),
        });
      if (!holder) throw elsewhere(', which is not an ao session');
      if (!holder.movable) throw elsewhere(` (session ${holder.sessionId}, which keeps it)`);
      if (await isDirty(holderPath)) throw elsewhere(` (session ${holder.sessionId}, which has uncommitted changes)`);
      await switchTo(holderPath, holder.rootBranch, { create: true });
      donorMoved = { sessionId: holder.sessionId, branch: holder.rootBranch, path: holderPath };
    }

    const existed = await gitSucceeds(opts.checkout, ['show-ref', '--verify', '--quiet', `refs/heads/${branch}`]);
    try {
      if (!existed) {
        await git(opts.checkout, ['branch', '--no-track', branch, fetched]);
      } else if (await gitSucceeds(opts.checkout, ['merge-base', '--is-ancestor', `refs/heads/${branch}`, fetched])) {
        await git(opts.checkout, ['branch', '--force', '--no-track', branch, fetched]);
      }
      if (!opts.pr.isCrossRepository && remote === 'origin') {
        // `git push` and `git status` in the worktree then speak of the PR's branch on origin
        await git(opts.checkout, ['config', `branch.${branch}.remote`, 'origin']);
        await git(opts.checkout, ['config', `branch.${branch}.merge`, `refs/heads/${opts.pr.headBranch}`]);
      }
      await git(worktree, ['switch', '--quiet', branch]);
    } catch (err) {
      if (donorMoved) await switchTo(donorMoved.path, branch).catch(() => {});
      throw workspaceFailed(err, `could not check out ${branch} in ${worktree}`);
    }
    return { donorMoved, existed };
  });

  return {
    branch,
    branchChanged: true,
    pushTarget,
    donorMoved: donorMoved ? { sessionId: donorMoved.sessionId, branch: donorMoved.branch } : null,
    async undo() {
      const problems: string[] = [];
      const attempt = async (what: string, work: () => Promise<unknown>) => {
        try {
          await work();
        } catch (err) {
          problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      await attempt(`put ${worktree} back on ${previous}`, () => switchTo(worktree, previous));
      if (donorMoved) {
        const { path } = donorMoved;
        await attempt(`put ${path} back on ${branch}`, () => switchTo(path, branch));
      } else if (!existed) {
        await attempt(`delete the branch ${branch} made for the claim`, () => git(opts.checkout, ['branch', '-D', branch]));
      }
      return problems;
    },
  };
}

async function refuseDirty(path: string): Promise<void> {
  let dirty: boolean;
  try {
    dirty = await isDirty(path);
  } catch (err) {
    throw workspaceFailed(err, `the workspace ${path} is not a usable git worktree`);
  }
  if (dirty) {
    throw new AoError('WORKSPACE_DIRTY', `the workspace ${path} has uncommitted changes; commit or stash them, then claim again`, { path });
  }
}

async function fetchPrHead(checkout: string, remote: string, number: number, ref: string): Promise<void> {
  try {
    // no FETCH_HEAD: claims of one project fetch side by side, and that file is shared
    await git(checkout, ['fetch', '--no-tags', '--no-write-fetch-head', '--quiet', remote, `+refs/pull/${number}/head:${ref}`], {
      timeoutMs: 120_000,
    });
  } catch (err) {
    throw workspaceFailed(err, `could not fetch refs/pull/${number}/head from ${remote === 'origin' ? "the project's origin" : remote}`);
  }
}

/** Switches a worktree to a branch (or, for a commit id, detaches there); `create` makes a missing branch at HEAD. */
async function switchTo(path: string, target: string, options: { create?: boolean } = {}): Promise<void> {
  if (await gitSucceeds(path, ['show-ref', '--verify', '--quiet', `refs/heads/${target}`])) {
    await git(path, ['switch', '--quiet', target]);
  } else if (options.create) {
    await git(path, ['switch', '--quiet', '--create', target]);
  } else {
    await git(path, ['switch', '--quiet', '--detach', target]);
  }
}

function workspaceFailed(err: unknown, message: string): AoError {
  if (err instanceof AoError) return err;
  const stderr = err instanceof GitError ? err.stderr.trim() : err instanceof Error ? err.message : String(err);
  return new AoError('WORKSPACE_FAILED', `${message}: ${stderr}`, { stderr });
}
