import { UnrecoverableError, WaitingError, Worker, type Job as BullJob, type Queue } from 'bullmq';
import type { Pool } from '../core/db/connect.js';
import { ClaimRequest } from '../core/domain.js';
import { AoError, type ErrorBody } from '../core/errors.js';
import { ClaimJobData } from '../core/queue.js';
import { claimPr, FenceLost } from '../core/store/claim-pr.js';
import {
  beginJobCompensation,
  failJobRun,
  finishJobCompensation,
  requeueJobRun,
  startJobRun,
  type JobRun,
  type RunLimits,
} from '../core/store/jobs.js';
import { checkOutForClaim } from './claim-checkout.js';
import { asJobError, isTransient } from './failure.js';
import type { KeyLock } from './key-lock.js';
import { holdLease } from './lease.js';
import type { PrSource } from './pr-source.js';
import { removeProvisionalSession } from './remove-provisional-session.js';

export const SHUTDOWN = 'shutdown';

export interface ClaimProcessorDeps {
  db: Pool;
  /** the host this worker runs on: the sessions whose claims it runs have their worktrees here */
  hostId: string;
  /** serialises, in this process, the claims of one session, of one PR, and git's config writes per checkout (worker/key-lock.ts) */
  claimLocks: KeyLock;
  github: PrSource;
  /** for queue-wide rate limiting when GitHub says to wait */
  queue: Queue<ClaimJobData>;
  maxAttempts: number;
  limits: RunLimits;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/** How long to pause for a rate limit that resets at `retryAt`: at least 1 s, at most 1 h. */
function rateLimitWait(retryAt: unknown): number {
  const at = Date.parse(String(retryAt ?? ''));
  const wait = (Number.isNaN(at) ? Date.now() + 60_000 : at) - Date.now();
  return Math.min(Math.max(wait, 1000), 3600_000);
}

/**
 * A spawn_claim whose claim failed removes the session that was spawned for it, so no orphan
 * survives even when the CLI that spawned it is gone. A run that finds the job already
 * compensating (its previous run died mid-way) resumes here. The job keeps the claim's error; a
 * failed removal is recorded in details.compensationError and leaves the session findable.
 */
async function compensate(deps: ClaimProcessorDeps, run: JobRun, sessionId: string, error: ErrorBody): Promise<void> {
  if (run.state === 'running' && !(await beginJobCompensation(deps.db, run, error))) return;
  let details: Record<string, unknown> = { ...(error.details ?? {}), sessionId };
  try {
    // removed means gone at the end, whoever removed it; false: it became a real session
    details = { ...details, sessionRemoved: (await removeProvisionalSession(deps.db, sessionId)) !== 'not-provisional' };
  } catch (err) {
    details = { ...details, compensationError: asJobError(err).message };
  }
  await finishJobCompensation(deps.db, run, { code: error.code, message: error.message, details });
}

/**
 * The claim job (SPEC §3.3). Each delivery starts a fenced run (ao.start_job_run); the run
 * fetches the PR from GitHub, then one claim transaction completes the job. Every exit keeps the
 * Postgres record true, and every write names the run's fence, so a run that was taken over
 * (its lease ran out) writes nothing: success (the transaction), a refusal or permanent error
 * (failed, or compensating → compensated for a spawn_claim), a transient error (queued again,
 * BullMQ retries with backoff), a rate limit (queued until the reset, the attempt refunded), a
 * shutdown (released to another worker).
 */
export function createClaimProcessor(deps: ClaimProcessorDeps) {
  return async (job: BullJob<ClaimJobData>, token?: string, signal?: AbortSignal): Promise<{ jobId: string; outcome: string }> => {
    const { jobId } = ClaimJobData.parse(job.data);
    const started = await startJobRun(deps.db, jobId, deps.limits, 'fetching the PR from GitHub');
    // busy: another run holds a live lease; finished or missing: nothing to do
    if (started.outcome !== 'run') return { jobId, outcome: started.outcome };
    const run: JobRun = started;
    const lease = holdLease(deps.db, run, deps.limits.leaseMs);
    try {
      if (run.state === 'compensating') {
        if (run.sessionId) await compensate(deps, run, run.sessionId, run.error ?? unknownError(jobId));
        return { jobId, outcome: 'compensated' };
      }
      return await attemptClaim(deps, job, run, lease.signal, token, signal);
    } catch (err) {
      if (err instanceof FenceLost) {
        deps.log('a job run lost its fence to another run and stopped', { jobId, run: run.run });
        return { jobId, outcome: 'fenced' };
      }
      throw err;
    } finally {
      lease.stop();
    }
  };
}

async function attemptClaim(
  deps: ClaimProcessorDeps,
  job: BullJob<ClaimJobData>,
  run: JobRun,
  fence: AbortSignal,
  token: string | undefined,
  shutdown: AbortSignal | undefined,
): Promise<{ jobId: string; outcome: string }> {
  const { jobId } = run;
  try {
    const request = ClaimRequest.parse(run.request);
    if (!run.sessionId) throw new AoError('INTERNAL_ERROR', `job ${jobId} has no session`);
    const signal = shutdown ? AbortSignal.any([shutdown, fence]) : fence;
    const fetched = await deps.github.fetchPullRequest(request.pr, { signal });
    const sessionId = run.sessionId;
    // From its checkout to its commit, a claim holds its session (one worktree, one branch at a
    // time: the session row ends up naming the branch its worktree is on) and then its PR (a
    // second claim of the PR sees the first's owner — and, without takeover, is refused by the
    // transaction — instead of finding the branch in a worktree whose claim has not committed).
    // Always in that order (and the checkout's lock, claim-checkout.ts, last), so two claims never
    // wait on each other in a circle.
    const prKey = `pr:${request.pr.owner}/${request.pr.repo}#${request.pr.number}`.toLowerCase();
    await deps.claimLocks.run(`session:${sessionId}`, () =>
      deps.claimLocks.run(prKey, () => claimWithCheckout(deps, run, sessionId, request, fetched)),
    );
    return { jobId, outcome: 'succeeded' };
  } catch (err) {
    if (err instanceof FenceLost || fence.aborted) throw new FenceLost(jobId, run.run);
    if (shutdown?.aborted && shutdown.reason === SHUTDOWN && token) {
      if (await requeueJobRun(deps.db, run, 'released by a worker that shut down', null, true)) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw new FenceLost(jobId, run.run);
    }
    const error = asJobError(err);
    if (error.code === 'SCM_RATE_LIMITED') {
      const waitMs = rateLimitWait(error.details?.retryAt);
      const until = new Date(Date.now() + waitMs).toISOString();
      if (!(await requeueJobRun(deps.db, run, `waiting for the GitHub rate limit to reset (${until})`, error.toBody(), true))) {
        throw new FenceLost(jobId, run.run);
      }
      deps.log('GitHub rate limit: pausing the claim queue', { jobId, waitMs });
      await deps.queue.rateLimit(waitMs);
      throw Worker.RateLimitError();
    }
    if (isTransient(error) && run.attempts < deps.maxAttempts) {
      const step = `retrying GitHub (attempt ${run.attempts + 1} of ${deps.maxAttempts}) after: ${error.message}`;
      if (!(await requeueJobRun(deps.db, run, step, error.toBody()))) throw new FenceLost(jobId, run.run);
      throw error;
    }
    if (run.kind === 'spawn_claim' && run.sessionId) {
      await compensate(deps, run, run.sessionId, error.toBody());
    } else if (!(await failJobRun(deps.db, run, error.toBody()))) {
      throw new FenceLost(jobId, run.run);
    }
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  }
}

/**
 * The checkout (on this host's disk) and the claim transaction, which succeed or fail together:
 * a transaction that refuses puts the worktrees back. A run that lost its fence leaves the disk
 * to the run that took the job over.
 */
async function claimWithCheckout(
  deps: ClaimProcessorDeps,
  run: JobRun,
  sessionId: string,
  request: ClaimRequest,
  fetched: Awaited<ReturnType<PrSource['fetchPullRequest']>>,
): Promise<void> {
  const checkout = await checkOutForClaim(deps.db, deps.claimLocks, deps.hostId, sessionId, request, fetched);
  try {
    // Snapshots are ordered by the database's clock at the start of the run that fetched them,
    // never by a worker's clock (which may be off by minutes).
    await claimPr(deps.db, {
      run,
      sessionId,
      allowTakeover: request.allowTakeover,
      snapshot: { ...fetched.snapshot, observedAt: run.startedAt },
      checkout: checkout && {
        branch: checkout.branch,
        branchChanged: checkout.branchChanged,
        pushTarget: checkout.pushTarget,
        donorMoved: checkout.donorMoved,
      },
    });
  } catch (err) {
    if (checkout && !(err instanceof FenceLost)) {
      const problems = await checkout.undo();
      if (problems.length > 0) deps.log('could not put a worktree back after a refused claim', { jobId: run.jobId, problems });
    }
    throw err;
  }
}

function unknownError(jobId: string): ErrorBody {
  return { code: 'INTERNAL_ERROR', message: `job ${jobId} was compensating without an error`, details: null };
}
