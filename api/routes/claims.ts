import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JobState, PullRequest } from '../../core/domain.js';
import { listSessionPrsJson } from '../../core/store/session-prs.js';
import { acceptClaim } from '../accept-claim.js';
import type { ApiContext } from '../context.js';
import { sendJsonText } from '../json-text.js';
import { IdParams } from '../params.js';
import { problemResponses } from '../problem.js';

export const JobAccepted = z
  .object({
    jobId: z.string(),
    state: JobState,
    links: z.object({ self: z.string() }),
  })
  .meta({ id: 'JobAccepted' });

export const jobLocation = (jobId: string) => `/api/v1/jobs/${jobId}`;

const ClaimBody = z.object({
  pr: z
    .string()
    .trim()
    .min(1)
    .describe('142, #142, owner/repo#142 or https://github.com/owner/repo/pull/142'),
  allowTakeover: z.boolean().nullish().describe('absent or null means true'),
});

export const claimRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.get(
    '/api/v1/sessions/:id/pr',
    {
      schema: {
        operationId: 'listSessionPRs',
        tags: ['sessions'],
        summary: "A session's pull requests: open before closed, most recently updated first",
        params: IdParams,
        response: { 200: z.object({ sessionId: z.string(), prs: z.array(PullRequest) }), ...problemResponses(404) },
      },
    },
    async (request, reply) => sendJsonText(reply, await listSessionPrsJson(ctx.db, request.params.id)),
  );

  app.post(
    '/api/v1/sessions/:id/pr/claim',
    {
      config: { validationCode: (fields) => (fields.includes('pr') || fields.includes('') ? 'PR_REQUIRED' : 'VALIDATION_FAILED') },
      schema: {
        operationId: 'claimSessionPR',
        tags: ['sessions'],
        summary: 'Claim an existing pull request for a session (asynchronous: 202 and a job)',
        params: IdParams,
        headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
        body: ClaimBody,
        response: { 202: JobAccepted, ...problemResponses(404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const { job } = await acceptClaim(ctx, request.params.id, request.body, request.headers['idempotency-key']);
      const self = jobLocation(job.id);
      return reply
        .status(202)
        .header('location', self)
        .header('retry-after', '1')
        .send({ jobId: job.id, state: job.state, links: { self } });
    },
  );
};
