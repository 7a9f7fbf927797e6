import { join } from 'node:path';
import type { Pool } from '../core/db/connect.js';
import { AoError } from '../core/errors.js';
import type { CheckoutFacts, HostWork } from '../core/host-work.js';
import { recordWorktreeIntent, requireSession, deleteSession } from '../core/store/sessions.js';
import { getProjectPlace } from '../core/store/projects.js';
import type { KeyLock } from './key-lock.js';
import { removeProvisionalSession } from './remove-provisional-session.js';
import { inspectCheckout } from './workspace/inspect-checkout.js';
import { createWorktree, removeWorktree } from './workspace/worktree.js';

export interface HostOpsDeps {
  db: Pool;
  hostId: string;
  /** this host's data dir: worktrees go under `<dataDir>/worktrees/<project>/<session>` */
  dataDir: string;
  /** the claim worker's locks: a session's worktree is made, moved or removed by one piece of work at a time */
  locks: KeyLock;
}

/** Runs one operation of the API's on this host's disk (core/host-work.ts). */
export async function runHostWork(deps: HostOpsDeps, work: HostWork): Promise<unknown> {
  switch (work.op) {
    case 'inspect-checkout':
      return inspectCheckout(work.path) satisfies Promise<CheckoutFacts>;
    case 'create-worktree':
      return deps.locks.run(`session:${work.sessionId}`, () => createSessionWorktree(deps, work.sessionId));
    case 'remove-session':
      return deps.locks.run(`session:${work.sessionId}`, () => removeSession(deps, work.sessionId, work.force));
  }
}

/**
 * The worktree of a session the API has just inserted, provisional: its path is recorded before
 * git runs (a crash from there on leaves something the janitor finishes removing), and a failure
 * removes what was made and the row before it is answered.
 */
async function createSessionWorktree(deps: HostOpsDeps, sessionId: string): Promise<{ path: string }> {
  const intent = await recordWorktreeIntent(deps.db, sessionId, join(deps.dataDir, 'worktrees'));
  if (!intent) {
    throw new AoError('SESSION_NOT_FOUND', `session ${sessionId} is no longer waiting for its worktree`, { sessionId });
  }
  try {
    // one `git worktree add` at a time per checkout: git fails on another's half-made admin dir
    await deps.locks.run(`checkout:${intent.checkout}`, () =>
      createWorktree({ checkout: intent.checkout, path: intent.path, branch: intent.branch, baseBranch: intent.defaultBranch }),
    );
  } catch (err) {
    await removeProvisionalSession(deps.db, sessionId);
    throw err;
  }
  return { path: intent.path };
}

/** `DELETE /sessions/{id}`: the worktree (a dirty one only when forced), the root branch ao made, then the row. */
async function removeSession(deps: HostOpsDeps, sessionId: string, force: boolean): Promise<{ removed: boolean }> {
  const session = await requireSession(deps.db, sessionId);
  if (session.workspacePath) {
    const project = await getProjectPlace(deps.db, session.projectId);
    if (project) {
      await deps.locks.run(`checkout:${project.path}`, () =>
        removeWorktree({
          checkout: project.path,
          path: session.workspacePath,
          force,
          // the branch ao made for it (a claim may have moved the worktree to a PR's branch since)
          deleteBranch: `ao/${session.id}/root`,
        }),
      );
    }
  }
  return { removed: await deleteSession(deps.db, session.id) };
}
