import { resolve } from 'node:path';
import { AoError } from '../../core/errors.js';
import { git, GitError, gitScript, gitSucceeds } from './git.js';

/** What GitHub says about a PR's head: enough to check it out and to know where it may be pushed. */
export interface PrHead {
  number: number;
  headBranch: string;
  /** the head commit GitHub answered with: when it is already in the checkout, nothing is fetched */
  headSha: string;
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
function localBranchFor(pr: PrHead): string {
  return pr.isCrossRepository ? `pr/${pr.number}/${pr.headBranch}` : pr.headBranch;
}

function pushTargetFor(pr: PrHead): string | null {
  if (!pr.isCrossRepository) return 'origin';
  return pr.maintainerCanModify && pr.headRepository !== '' ? pr.headRepository : null;
}

/** The private ref a PR's head is fetched into: never a branch, which git refuses to update while checked out. */
const fetchedRefFor = (pr: PrHead) => `refs/ao/pull/${pr.number}`;

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
   * Runs what takes a repository-wide lock (`git config`). Callers serialise it per checkout;
   * everything else touches refs or worktrees of its own and runs side by side.
   */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
}): Promise<PrCheckout> {
  const exclusive = opts.exclusive ?? (<T>(work: () => Promise<T>) => work());
  const worktree = resolve(opts.worktree);
  const branch = localBranchFor(opts.pr);
  const pushTarget = pushTargetFor(opts.pr);
  // Every git process costs a fork of the worker: the common paths take as few as they can
  // (a first claim: status, fetch, switch, config).
  const { dirty, head } = await worktreeState(worktree);
  if (dirty) {
    throw new AoError('WORKSPACE_DIRTY', `the workspace ${worktree} has uncommitted changes; commit or stash them, then claim again`, { path: worktree });
  }
  const { startPoint: fetched, source } = await fetchPrHead(opts.checkout, opts.fallbackRemote, opts.pr);
  if (head === branch) {
    // already there: catch up with the PR when that loses nothing
    await gitSucceeds(worktree, ['merge', '--ff-only', '--quiet', fetched]);
    return { branch, branchChanged: false, pushTarget, donorMoved: null, undo: async () => [] };
  }
  const previous = head ?? (await git(worktree, ['rev-parse', 'HEAD']));

  // a new branch at the PR's head, made and checked out in one step
  const creating = await trySwitch(worktree, ['--no-track', '--create', branch, fetched]);
  let donorMoved: { sessionId: string; branch: string; path: string } | null = null;
  const created = creating === true;
  if (creating !== true) {
    if (!/already exists/.test(creating)) throw workspaceFailed(creating, `could not check out ${branch} in ${worktree}`);
    let switched = await trySwitch(worktree, [branch]);
    const holderPath = switched === true ? null : heldAt(switched);
    if (holderPath) {
      donorMoved = await freeBranch(opts, branch, holderPath);
      switched = await trySwitch(worktree, [branch]);
    }
    if (switched !== true) {
      if (donorMoved) await git(donorMoved.path, ['switch', '--quiet', branch]).catch(() => {});
      throw workspaceFailed(switched, `could not check out ${branch} in ${worktree}`);
    }
    // an existing branch catches up with the PR when that loses nothing; diverged, it is kept
    await gitSucceeds(worktree, ['merge', '--ff-only', '--quiet', fetched]);
  }
  if (created && !opts.pr.isCrossRepository && source !== 'fallback') {
    // `git push` and `git status` in the worktree then speak of the PR's branch on origin
    await exclusive(() =>
      gitScript(opts.checkout, 'git remote get-url origin >/dev/null 2>&1 || exit 0; git config "$1" origin && git config "$2" "$3"', [
        `branch.${branch}.remote`,
        `branch.${branch}.merge`,
        `refs/heads/${opts.pr.headBranch}`,
      ]),
    );
  }
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
      } else if (created) {
        await attempt(`delete the branch ${branch} made for the claim`, () => git(opts.checkout, ['branch', '-D', branch]));
      }
      return problems;
    },
  };
}

/** Whether the worktree has uncommitted changes, and the branch it is on (null: detached), in one git process. */
async function worktreeState(path: string): Promise<{ dirty: boolean; head: string | null }> {
  let out: string;
  try {
    out = await git(path, ['status', '--porcelain=v2', '--branch', '--untracked-files=normal']);
  } catch (err) {
    throw workspaceFailed(err, `the workspace ${path} is not a usable git worktree`);
  }
  const lines = out.split('\n').filter(Boolean);
  const head = /^# branch\.head (.+)$/m.exec(out)?.[1];
  return { dirty: lines.some((l) => !l.startsWith('#')), head: head && head !== '(detached)' ? head : null };
}

/** `git switch …`: true, or git's complaint. */
async function trySwitch(worktree: string, args: string[]): Promise<true | string> {
  try {
    await git(worktree, ['switch', '--quiet', ...args]);
    return true;
  } catch (err) {
    if (err instanceof GitError) return err.stderr;
    throw err;
  }
}

/** The worktree git names when it refuses a branch that is checked out elsewhere. */
function heldAt(stderr: string): string | null {
  return /already (?:checked out|used by worktree) at '(.+?)'/.exec(stderr)?.[1] ?? null;
}

/** The branch is checked out in another worktree: moves that one back to its root branch when it may go. */
async function freeBranch(
  opts: { holderOf(path: string): Promise<WorktreeHolder | null> },
  branch: string,
  holderPath: string,
): Promise<{ sessionId: string; branch: string; path: string }> {
  const holder = await opts.holderOf(resolve(holderPath));
  const elsewhere = (why: string) =>
    new AoError('BRANCH_CHECKED_OUT_ELSEWHERE', `branch ${branch} is checked out in ${holderPath}${why}`, {
      branch,
      worktree: holderPath,
      ...(holder ? { sessionId: holder.sessionId } : {}),
    });
  if (!holder) throw elsewhere(', which is not an ao session');
  if (!holder.movable) throw elsewhere(` (session ${holder.sessionId}, which keeps it)`);
  if ((await worktreeState(holderPath)).dirty) throw elsewhere(` (session ${holder.sessionId}, which has uncommitted changes)`);
  await switchTo(holderPath, holder.rootBranch, { create: true });
  return { sessionId: holder.sessionId, branch: holder.rootBranch, path: holderPath };
}

/**
 * Where the PR's head is, in the checkout: the snapshot's own head commit when the checkout already
 * has it (a takeover, a re-claim: nothing is fetched), else `refs/pull/<n>/head` fetched into the
 * PR's private ref from origin, or from `fallback` when the checkout has no origin remote. One
 * process for Node. FETCH_HEAD is not written: claims of one project fetch side by side, and that
 * file is shared.
 */
async function fetchPrHead(checkout: string, fallback: string, pr: PrHead): Promise<{ startPoint: string; source: 'local' | 'origin' | 'fallback' }> {
  const ref = fetchedRefFor(pr);
  const sha = /^[0-9a-f]{40}$/.test(pr.headSha) ? pr.headSha : '';
  const script = [
    'if [ -n "$1" ] && git cat-file -e "$1^{commit}" 2>/dev/null; then echo local; exit 0; fi',
    'if git remote get-url origin >/dev/null 2>&1; then from=origin; else from="$3"; fi',
    'git fetch --no-tags --no-write-fetch-head --quiet "$from" "+refs/pull/$4/head:$2" || exit $?',
    '[ "$from" = origin ] && echo origin || echo fallback',
  ].join('\n');
  let out: string;
  try {
    out = await gitScript(checkout, script, [sha, ref, fallback, String(pr.number)], { timeoutMs: 120_000 });
  } catch (err) {
    throw workspaceFailed(err, `could not fetch refs/pull/${pr.number}/head from the project's origin (or ${fallback} when it has none)`);
  }
  const source = out === 'local' ? 'local' : out === 'origin' ? 'origin' : 'fallback';
  return { startPoint: source === 'local' ? sha : ref, source };
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
  const stderr = typeof err === 'string' ? err.trim() : err instanceof GitError ? err.stderr.trim() : err instanceof Error ? err.message : String(err);
  return new AoError('WORKSPACE_FAILED', `${message}: ${stderr}`, { stderr });
}
