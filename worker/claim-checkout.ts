import type { Pool } from '../core/db/connect.js';
import type { ClaimRequest, PrSnapshot } from '../core/domain.js';
import { getCheckoutContext, getWorktreeSession } from '../core/store/checkout-context.js';
import type { KeyLock } from './key-lock.js';
import { checkoutPr, type PrCheckout } from './workspace/pr-checkout.js';

/**
 * The disk part of a claim (SPEC §3.5, issue 13), run by a worker of the session's host after the
 * GitHub fetch and before the claim transaction: the session's worktree moves onto the PR's head.
 * Null when the transaction is bound to refuse anyway (the session or project is gone, the PR is
 * not open, an active owner may not be taken over): then nothing on disk moves and the
 * transaction gives the refusal its code. The step that takes a repository-wide git lock runs
 * under `locks` keyed by the checkout (taken after the claim's session and PR locks).
 */
export async function checkOutForClaim(
  db: Pool,
  locks: KeyLock,
  hostId: string,
  sessionId: string,
  request: ClaimRequest,
  fetched: { snapshot: PrSnapshot; maintainerCanModify: boolean },
): Promise<PrCheckout | null> {
  const { snapshot } = fetched;
  if (snapshot.state === 'merged' || snapshot.state === 'closed') return null;
  const url = `https://github.com/${snapshot.owner}/${snapshot.repo}/pull/${snapshot.number}`;
  const context = await getCheckoutContext(db, sessionId, url);
  if (!context?.checkout || context.session.state === 'terminated' || context.session.workspacePath.trim() === '') return null;
  const { owner } = context;
  const takingOver = owner !== null && owner.sessionId !== sessionId;
  if (takingOver && owner.state !== 'terminated' && !request.allowTakeover) return null;
  const checkout = context.checkout;
  const exclusive = <T>(work: () => Promise<T>) => locks.run(`checkout:${checkout}`, work);
  const done = await checkoutPr({
    checkout,
    worktree: context.session.workspacePath,
    fallbackRemote: `${(context.repoUrl || `https://github.com/${snapshot.owner}/${snapshot.repo}`).replace(/\.git$/, '')}.git`,
    pr: {
      number: snapshot.number,
      headBranch: snapshot.headBranch,
      headSha: snapshot.headSha,
      headRepository: snapshot.headRepository,
      isCrossRepository: snapshot.isCrossRepository,
      maintainerCanModify: fetched.maintainerCanModify,
    },
    async holderOf(path) {
      const holder = await getWorktreeSession(db, hostId, path);
      if (!holder) return null;
      // the donor this claim takes the PR from, or a session that has ended, gives the branch up
      const movable = holder.state === 'terminated' || (takingOver && holder.id === owner?.sessionId);
      return { sessionId: holder.id, rootBranch: `ao/${holder.id}/root`, movable };
    },
    exclusive,
  });
  return {
    ...done,
    // moved by this claim, as the session's record sees it: a run that died after its switch left
    // the worktree on the branch and the row behind, and its retry finds nothing left to move
    branchChanged: done.branchChanged || done.branch !== context.session.branch,
    undo: () => exclusive(() => done.undo()),
  };
}
