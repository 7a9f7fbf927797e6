import { createHash } from 'node:crypto';
import type { Job, ReclaimRequest, ReclaimSelector } from '../core/domain.js';
import { AoError } from '../core/errors.js';
import { resolvePrRef } from '../core/pr-ref.js';
import { createJob } from '../core/store/jobs.js';
import { requireProject } from '../core/store/projects.js';
import { requireSession } from '../core/store/sessions.js';
import type { ApiContext } from './context.js';

export interface ReclaimBody {
  prs?: string[] | undefined;
  sessionId?: string | undefined;
  projectId?: string | undefined;
  orphaned?: true | undefined;
  all?: true | undefined;
  includeClosed?: boolean | undefined;
}

export const SELECTORS = ['prs', 'sessionId', 'projectId', 'orphaned', 'all'] as const;

/**
 * `POST /api/v1/pr/reclaims` (SPEC §6, §9): the selector checked and resolved (PR refs to
 * canonical URLs; the session or project must exist), then one durable reclaim_batch job, handed
 * to the re-claim queue as a claim is (a failed hand-off is the sweeper's). Its items are made by
 * the batch's first run, from the PRs as they are then.
 */
export async function acceptReclaim(ctx: ApiContext, body: ReclaimBody, idempotencyKey: string | undefined): Promise<{ job: Job; created: boolean }> {
  const selector = await resolveSelector(ctx, body);
  const request: ReclaimRequest = { selector, includeClosed: body.includeClosed ?? false };
  if (!ctx.queue.available()) {
    throw new AoError('QUEUE_UNAVAILABLE', 'the job queue (Redis) is unavailable; nothing was accepted, retry later');
  }
  const { job, created } = await createJob(ctx.db, {
    kind: 'reclaim_batch',
    sessionId: 'sessionId' in selector ? selector.sessionId : null,
    projectId: 'projectId' in selector ? selector.projectId : null,
    request,
    idempotency: idempotencyKey
      ? { scope: 'reclaim', key: idempotencyKey, requestHash: createHash('sha256').update(JSON.stringify(request)).digest('hex') }
      : null,
  });
  if (created) {
    try {
      await ctx.queue.enqueueReclaim(job.id);
    } catch (err) {
      ctx.onEnqueueFailed?.(job.id, err);
    }
  }
  return { job, created };
}

async function resolveSelector(ctx: ApiContext, body: ReclaimBody): Promise<ReclaimSelector> {
  if (body.prs) {
    const urls = body.prs.map((ref, index) => {
      try {
        return resolvePrRef(ref, '').url.toLowerCase();
      } catch (err) {
        if (err instanceof AoError && (err.code === 'INVALID_PR_REF' || err.code === 'PROJECT_NOT_RESOLVABLE')) {
          throw new AoError('INVALID_PR_REF', `prs[${index}] ${JSON.stringify(ref)}: a batch names each PR in full (owner/repo#n or its URL)`, {
            index,
            ref,
          });
        }
        throw err;
      }
    });
    return { prs: [...new Set(urls)].sort() };
  }
  if (body.sessionId !== undefined) return { sessionId: (await requireSession(ctx.db, body.sessionId)).id };
  if (body.projectId !== undefined) return { projectId: (await requireProject(ctx.db, body.projectId)).id };
  if (body.orphaned) return { orphaned: true };
  return { all: true };
}
