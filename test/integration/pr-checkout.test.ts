import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AoError } from '../../core/errors.js';
import { checkoutPr, type PrHead, type WorktreeHolder } from '../../worker/workspace/pr-checkout.js';
import { createWorktree } from '../../worker/workspace/worktree.js';
import { makeGitOrigin, type GitOrigin } from '../support/git-origin.js';

let origin: GitOrigin;
let seq = 0;

beforeAll(async () => {
  origin = await makeGitOrigin();
});
afterAll(async () => {
  await origin.remove();
});

/** a session's worktree on its root branch, as spawn makes it */
async function session(): Promise<{ id: string; path: string; root: string }> {
  const id = `s${++seq}`;
  const root = `ao/${id}/root`;
  const path = join(origin.checkout, '..', 'worktrees', id);
  await createWorktree({ checkout: origin.checkout, path, branch: root, baseBranch: 'main' });
  return { id, path, root };
}

const head = (number: number, over: Partial<PrHead> = {}): PrHead => ({
  number,
  headBranch: `feature/${number}`,
  headSha: '',
  headRepository: 'Acme/Widgets',
  isCrossRepository: false,
  maintainerCanModify: false,
  ...over,
});

const branchOf = (path: string) => origin.git(path, 'symbolic-ref', '--short', 'HEAD');
const shaOf = (path: string) => origin.git(path, 'rev-parse', 'HEAD');
const noHolder = async (): Promise<WorktreeHolder | null> => null;

async function refusal(work: Promise<unknown>): Promise<AoError> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AoError);
  return err as AoError;
}

describe('checking out a PR in a session worktree', () => {
  it('switches to the head branch of a same-repository PR, at its head commit, pushing to origin', async () => {
    const s = await session();
    const sha = origin.addPr(101);
    const done = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr: head(101), holderOf: noHolder });
    expect(done).toMatchObject({ branch: 'feature/101', branchChanged: true, pushTarget: 'origin', donorMoved: null });
    expect(branchOf(s.path)).toBe('feature/101');
    expect(shaOf(s.path)).toBe(sha);
    expect(origin.git(s.path, 'config', 'branch.feature/101.remote')).toBe('origin');
    expect(origin.git(s.path, 'config', 'branch.feature/101.merge')).toBe('refs/heads/feature/101');
  });

  it("takes the snapshot's head commit without fetching when the checkout already has it", async () => {
    const first = await session();
    const sha = origin.addPr(110);
    await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: first.path, pr: head(110), holderOf: noHolder });
    origin.git(first.path, 'switch', '-q', first.root);
    const second = await session();
    origin.git(origin.checkout, 'remote', 'set-url', 'origin', '/nonexistent/origin.git');
    try {
      const done = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: second.path, pr: head(110, { headSha: sha }), holderOf: noHolder });
      expect(done.branchChanged).toBe(true);
      expect(shaOf(second.path)).toBe(sha);
      // and an unknown commit is fetched, which now fails: the origin is gone
      const err = await refusal(checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: first.path, pr: head(111, { headSha: 'f'.repeat(40) }), holderOf: noHolder }));
      expect(err.code).toBe('WORKSPACE_FAILED');
    } finally {
      origin.git(origin.checkout, 'remote', 'set-url', 'origin', origin.bare);
    }
  });

  it('says branchChanged=false when the worktree is already on the PR', async () => {
    const s = await session();
    origin.addPr(102);
    await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr: head(102), holderOf: noHolder });
    const again = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr: head(102), holderOf: noHolder });
    expect(again).toMatchObject({ branch: 'feature/102', branchChanged: false });
  });

  it("checks out a fork PR's commits, which are on no origin branch, on a branch that cannot collide", async () => {
    const s = await session();
    const sha = origin.addPr(103, { fork: true, branch: 'main' });
    expect(origin.git(origin.bare, 'branch', '--contains', sha)).toBe('');
    const pr = head(103, { headBranch: 'main', headRepository: 'someone/widgets', isCrossRepository: true, maintainerCanModify: true });
    const done = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr, holderOf: noHolder });
    expect(done).toMatchObject({ branch: 'pr/103/main', branchChanged: true, pushTarget: 'someone/widgets' });
    expect(shaOf(s.path)).toBe(sha);

    const t = await session();
    const readOnly = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: t.path, pr: { ...pr, number: 103, maintainerCanModify: false }, holderOf: async () => ({ sessionId: s.id, rootBranch: s.root, movable: true }) });
    expect(readOnly.pushTarget).toBeNull();
  });

  it('refuses a dirty worktree with WORKSPACE_DIRTY and changes nothing, not even a fetched ref', async () => {
    const s = await session();
    origin.addPr(104);
    await writeFile(join(s.path, 'notes.txt'), 'unsaved work\n');
    const err = await refusal(checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr: head(104), holderOf: noHolder }));
    expect(err.code).toBe('WORKSPACE_DIRTY');
    expect(branchOf(s.path)).toBe(s.root);
    expect(origin.git(origin.checkout, 'for-each-ref', 'refs/ao/pull/104', 'refs/heads/feature/104')).toBe('');
  });

  it('moves a clean donor that holds the branch back to its root branch, then switches the claimant', async () => {
    const donor = await session();
    const claimant = await session();
    origin.addPr(105);
    await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: donor.path, pr: head(105), holderOf: noHolder });
    const done = await checkoutPr({
      checkout: origin.checkout,
      fallbackRemote: origin.bare,
      worktree: claimant.path,
      pr: head(105),
      holderOf: async (path) => (path === donor.path ? { sessionId: donor.id, rootBranch: donor.root, movable: true } : null),
    });
    expect(done.donorMoved).toEqual({ sessionId: donor.id, branch: donor.root });
    expect(branchOf(donor.path)).toBe(donor.root);
    expect(branchOf(claimant.path)).toBe('feature/105');
  });

  it('refuses with BRANCH_CHECKED_OUT_ELSEWHERE, naming the session, when the holder is dirty or keeps the branch', async () => {
    const holder = await session();
    const claimant = await session();
    origin.addPr(106);
    await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: holder.path, pr: head(106), holderOf: noHolder });

    const kept = await refusal(
      checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: claimant.path, pr: head(106), holderOf: async () => ({ sessionId: holder.id, rootBranch: holder.root, movable: false }) }),
    );
    expect(kept.code).toBe('BRANCH_CHECKED_OUT_ELSEWHERE');
    expect(kept.details).toMatchObject({ sessionId: holder.id, branch: 'feature/106' });

    await writeFile(join(holder.path, 'wip.txt'), 'wip\n');
    const dirty = await refusal(
      checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: claimant.path, pr: head(106), holderOf: async () => ({ sessionId: holder.id, rootBranch: holder.root, movable: true }) }),
    );
    expect(dirty.code).toBe('BRANCH_CHECKED_OUT_ELSEWHERE');
    expect(branchOf(holder.path)).toBe('feature/106');
    expect(branchOf(claimant.path)).toBe(claimant.root);
  });

  it('puts both worktrees back, and deletes a branch it made, when undone', async () => {
    const donor = await session();
    const claimant = await session();
    origin.addPr(107);
    origin.addPr(108);
    await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: donor.path, pr: head(107), holderOf: noHolder });
    const moved = await checkoutPr({
      checkout: origin.checkout,
      fallbackRemote: origin.bare,
      worktree: claimant.path,
      pr: head(107),
      holderOf: async () => ({ sessionId: donor.id, rootBranch: donor.root, movable: true }),
    });
    expect(await moved.undo()).toEqual([]);
    expect(branchOf(donor.path)).toBe('feature/107');
    expect(branchOf(claimant.path)).toBe(claimant.root);

    const fresh = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: claimant.path, pr: head(108), holderOf: noHolder });
    expect(await fresh.undo()).toEqual([]);
    expect(branchOf(claimant.path)).toBe(claimant.root);
    expect(origin.git(origin.checkout, 'for-each-ref', 'refs/heads/feature/108')).toBe('');
  });

  it('keeps a local branch that has commits the PR does not, instead of resetting it', async () => {
    const s = await session();
    origin.addPr(109);
    await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr: head(109), holderOf: noHolder });
    await writeFile(join(s.path, 'local.txt'), 'local work\n');
    origin.git(s.path, 'add', 'local.txt');
    origin.git(s.path, 'commit', '-q', '-m', 'local work');
    const local = shaOf(s.path);
    origin.git(s.path, 'switch', '-q', s.root);
    const back = await checkoutPr({ checkout: origin.checkout, fallbackRemote: origin.bare, worktree: s.path, pr: head(109), holderOf: noHolder });
    expect(back.branchChanged).toBe(true);
    expect(shaOf(s.path)).toBe(local);
  });
});
