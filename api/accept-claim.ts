import { createHash } from 'node:crypto';
import type { ClaimRequest, Job } from '../core/domain.js';
import { AoError } from '../core/errors.js';
import { resolvePrRef } from '../core/pr-ref.js';
import { getClaimant } from '../core/store/claimant.js';
import { sessionNotFound } from '../core/store/sessions.js';
import { createJob, deleteQueuedJob } from '../core/store/jobs.js';
import type { ApiContext } from './context.js';

export interface ClaimBody {
  pr: string;
  allowTakeover?: boolean | null | undefined;
}

/**
 * SPEC §3.1–3.2: the synchronous checks, in the order the spec gives, then a durable job and its
 * hand-off to the queue. Every refusal happens before anything is written. When the queue cannot
 * take the job, the job is removed again and the caller gets QUEUE_UNAVAILABLE, so an accepted
 * request (202) always means a job that will run.
 */
export async function acceptClaim(
  ctx: ApiContext,
  sessionId: string,
  body: ClaimBody,
  idempotencyKey: string | undefined,
): Promise<{ job: Job; created: boolean }> {
  const claimant = await getClaimant(ctx.db, sessionId);
  if (!claimant) throw sessionNotFound(sessionId);
  const { session, project } = claimant;
  if (session.state === 'terminated') {
    throw new AoError('SESSION_TERMINATED', `session ${sessionId} is terminated`, { sessionId });
  }
  if (session.state === 'provisional' && session.leaseExpiresAt && Date.parse(session.leaseExpiresAt) < Date.now()) {
    throw new AoError('SESSION_TERMINATED', `session ${sessionId} was provisional and its lease expired`, { sessionId });
  }
  if (session.kind !== 'worker') {
    throw new AoError('SESSION_NOT_CLAIMABLE', `session ${sessionId} is an ${session.kind}; only worker sessions can claim PRs`, {
      sessionId,
      kind: session.kind,
    });
  }
  if (session.workspacePath.trim() === '') {
    throw new AoError('SESSION_NO_WORKSPACE', `session ${sessionId} has no workspace`, { sessionId });
  }
  if (!project) {
    throw new AoError('PROJECT_NOT_RESOLVABLE', `the project of session ${sessionId} is not registered; register it with \`ao project add\``, {
      sessionId,
      projectId: session.projectId,
    });
  }
  const pr = resolvePrRef(body.pr, project.repoUrl);
  const request: ClaimRequest = { pr, allowTakeover: body.allowTakeover ?? true };
  const idempotency = idempotencyKey
    ? { scope: `claim:${sessionId}`, key: idempotencyKey, requestHash: hashRequest(request) }
    : null;
  const { job, created } = await createJob(ctx.db, {
    // a provisional session was spawned for this claim: if the claim fails, the worker removes it
    kind: session.state === 'provisional' ? 'spawn_claim' : 'claim',
    sessionId,
    projectId: project.id,
    request,
    idempotency,
  });
  if (created) {
    try {
      await ctx.queue.enqueueClaim(job.id);
    } catch (err) {
      await deleteQueuedJob(ctx.db, job.id);
      throw new AoError('QUEUE_UNAVAILABLE', 'the job queue (Redis) is unavailable; nothing was accepted, retry later', null, {
        cause: err,
      });
    }
  }
  return { job, created };
}

/** The same request however the PR was written (#142, owner/repo#142, URL): same hash. */
function hashRequest(request: ClaimRequest): string {
  const canonical = JSON.stringify([request.pr.owner.toLowerCase(), request.pr.repo.toLowerCase(), request.pr.number, request.allowTakeover]);
  return createHash('sha256').update(canonical).digest('hex');
}
