import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { acceptReclaim, SELECTORS } from '../accept-reclaim.js';
import type { ApiContext } from '../context.js';
import { ResourceId } from '../params.js';
import { problemResponses } from '../problem.js';
import { JobAccepted, jobLocation } from './claims.js';

const ReclaimBody = z
  .object({
    prs: z.array(z.string().trim().min(1).max(512)).min(1).max(100_000).optional().describe('PRs named in full: owner/repo#142 or a PR URL'),
    sessionId: ResourceId.optional().describe("every PR the session owns"),
    projectId: ResourceId.optional().describe("every PR of the project"),
    orphaned: z.literal(true).optional().describe('every PR whose owner is terminated'),
    all: z.literal(true).optional().describe('every PR ao knows'),
    includeClosed: z.boolean().optional().describe('also merged and closed PRs (default false)'),
  })
  .strict()
  .refine((body) => SELECTORS.filter((name) => body[name] !== undefined).length === 1, {
    message: `give exactly one of ${SELECTORS.join(', ')}`,
    path: ['selector'],
  });

export const reclaimRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.post(
    '/api/v1/pr/reclaims',
    {
      schema: {
        operationId: 'reclaimPRs',
        tags: ['jobs'],
        summary: "Re-fetch and re-apply many PRs' snapshots, keeping their owners (asynchronous: 202 and a batch job)",
        headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
        body: ReclaimBody,
        response: { 202: JobAccepted, ...problemResponses(404, 422, 503) },
      },
    },
    async (request, reply) => {
      const { job } = await acceptReclaim(ctx, request.body, request.headers['idempotency-key']);
      const self = jobLocation(job.id);
      return reply.status(202).header('location', self).header('retry-after', '1').send({ jobId: job.id, state: job.state, links: { self } });
    },
  );
};
