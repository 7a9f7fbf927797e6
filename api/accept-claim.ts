import { createHash } from 'node:crypto';
import type { ClaimRequest, Job } from '../core/domain.js';
import { AoError } from '../core/errors.js';
import { resolvePrRef } from '../core/pr-ref.js';
import { getClaimant } from '../core/store/claimant.js';
import { sessionNotFound } from '../core/store/sessions.js';
import { createJob, setQueuedJobStep } from '../core/store/jobs.js';
import type { ApiContext } from './context.js';

export interface ClaimBody {
  pr: string;
  allowTakeover?: boolean | null | undefined;
}

/**
 * SPEC §3.1–3.2: the synchronous checks, in the order the spec gives, then a durable job and its
 * hand-off to the queue. Every refusal happens before anything is written.
 *
 * 202 means durable: the job row is the record and the queue only carries it (an outbox). Once
 * the row is committed the answer is 202, whatever the queue does next: a hand-off that fails or
 * times out is retried by the workers' sweeper, which enqueues every queued job BullMQ does not
 * carry. QUEUE_UNAVAILABLE (503) is answered only before anything is written, when the queue is
 * known to be down — so a 503 never stands for a job that then runs, and a job that answered
 * 202 (to this request or, through its Idempotency-Key, to another) never disappears.
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
  if (!ctx.queue.available()) {
    throw new AoError('QUEUE_UNAVAILABLE', 'the job queue (Redis) is unavailable; nothing was accepted, retry later');
  }
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
      await ctx.queue.enqueueClaim(job.id, session.host);
    } catch (err) {
      ctx.onEnqueueFailed?.(job.id, err);
    }
    // the claim waits in its host's queue; its step says so while nothing could take it
    if (!(await ctx.hostAlive(session.host))) {
      const step = `waiting for a worker of host ${session.host} (none is running)`;
      await setQueuedJobStep(ctx.db, job.id, step);
      return { job: { ...job, step }, created };
    }
  }
  return { job, created };
}

/** The same request however the PR was written (#142, owner/repo#142, URL): same hash. */
function hashRequest(request: ClaimRequest): string {
  const canonical = JSON.stringify([request.pr.owner.toLowerCase(), request.pr.repo.toLowerCase(), request.pr.number, request.allowTakeover]);
  return createHash('sha256').update(canonical).digest('hex');
}
