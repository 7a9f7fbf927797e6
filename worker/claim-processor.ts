import { UnrecoverableError, WaitingError, Worker, type Job as BullJob, type Queue } from 'bullmq';
import type { Pool } from '../core/db/connect.js';
import { ClaimRequest } from '../core/domain.js';
import { AoError } from '../core/errors.js';
import { ClaimJobData } from '../core/queue.js';
import { claimPr } from '../core/store/claim-pr.js';
import { beginCompensation, failJob, finishCompensation, requeueJob, startJob } from '../core/store/jobs.js';
import { asJobError, isTransient } from './failure.js';
import type { PrSource } from './pr-source.js';
import { removeProvisionalSession } from './remove-provisional-session.js';

export const SHUTDOWN = 'shutdown';

export interface ClaimProcessorDeps {
  db: Pool;
  github: PrSource;
  /** for queue-wide rate limiting when GitHub says to wait */
  queue: Queue<ClaimJobData>;
  maxAttempts: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The claim job (SPEC §3.3): fetch the PR from GitHub, then one claim transaction that also
 * completes the job. The Postgres job row is the record; this keeps it true at every exit:
 * success (written by the transaction), a refusal or a permanent error (failed, not retried),
 * a transient error (queued again with the error, BullMQ retries with backoff), a rate limit
 * (queued until the reset, no attempt used), and a shutdown (released to another worker).
 */
/** How long to pause for a rate limit that resets at `retryAt`: at least 1 s, at most 1 h. */
function rateLimitWait(retryAt: unknown): number {
  const at = Date.parse(String(retryAt ?? ''));
  const wait = (Number.isNaN(at) ? Date.now() + 60_000 : at) - Date.now();
  return Math.min(Math.max(wait, 1000), 3600_000);
}

/**
 * A spawn_claim whose claim failed removes the session that was spawned for it, so no orphan
 * survives even when the CLI that spawned it is gone. The job keeps the claim's error; a failed
 * removal is recorded in details.compensationError and leaves the session findable.
 */
async function compensate(deps: ClaimProcessorDeps, jobId: string, sessionId: string, error: AoError): Promise<void> {
  await beginCompensation(deps.db, jobId, error.toBody());
  let details: Record<string, unknown> = { ...(error.details ?? {}), sessionId };
  try {
    details = { ...details, sessionRemoved: (await removeProvisionalSession(deps.db, sessionId)) === 'removed' };
  } catch (err) {
    details = { ...details, compensationError: asJobError(err).message };
  }
  await finishCompensation(deps.db, jobId, { code: error.code, message: error.message, details });
}

export function createClaimProcessor(deps: ClaimProcessorDeps) {
  return async (job: BullJob<ClaimJobData>, token?: string, signal?: AbortSignal): Promise<{ jobId: string }> => {
    const { jobId } = ClaimJobData.parse(job.data);
    const started = await startJob(deps.db, jobId, job.attemptsMade + 1, 'fetching the PR from GitHub');
    if (!started) return { jobId }; // finished or gone: a duplicate delivery
    try {
      const request = ClaimRequest.parse(started.request);
      if (!started.sessionId) throw new AoError('INTERNAL_ERROR', `job ${jobId} has no session`);
      const { snapshot } = await deps.github.fetchPullRequest(request.pr, signal ? { signal } : {});
      await claimPr(deps.db, {
        jobId,
        sessionId: started.sessionId,
        allowTakeover: request.allowTakeover,
        snapshot,
      });
      return { jobId };
    } catch (err) {
      if (signal?.aborted && signal.reason === SHUTDOWN && token) {
        await requeueJob(deps.db, jobId, 'released by a worker that shut down', null);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const error = asJobError(err);
      if (error.code === 'SCM_RATE_LIMITED') {
        const waitMs = rateLimitWait(error.details?.retryAt);
        await requeueJob(deps.db, jobId, `waiting for the GitHub rate limit to reset (${new Date(Date.now() + waitMs).toISOString()})`, error.toBody());
        deps.log('GitHub rate limit: pausing the claim queue', { jobId, waitMs });
        await deps.queue.rateLimit(waitMs);
        throw Worker.RateLimitError();
      }
      const attempt = job.attemptsMade + 1;
      if (isTransient(error) && attempt < deps.maxAttempts) {
        await requeueJob(deps.db, jobId, `retrying after attempt ${attempt} failed: ${error.message}`, error.toBody());
        throw error;
      }
      if (started.kind === 'spawn_claim' && started.sessionId) {
        await compensate(deps, jobId, started.sessionId, error);
      } else {
        await failJob(deps.db, jobId, error.toBody());
      }
      throw new UnrecoverableError(`${error.code}: ${error.message}`);
    }
  };
}
