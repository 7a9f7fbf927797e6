import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Job, JobKind, JobState, TERMINAL_JOB_STATES } from '../../core/domain.js';
import { listJobItems, listJobs } from '../../core/store/job-lists.js';
import { cancelJob, requireJobAnswer, type JobAnswer } from '../../core/store/jobs.js';
import type { ApiContext } from '../context.js';
import { sendJsonPageText, sendJsonText } from '../json-text.js';
import { IdParams, NextCursor, PageQuery, ResourceId } from '../params.js';
import { problemResponses } from '../problem.js';

export const MAX_WAIT_SECONDS = 60;

export const jobRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.get(
    '/api/v1/jobs',
    {
      schema: {
        operationId: 'listJobs',
        tags: ['jobs'],
        summary: 'List jobs, newest first, a page at a time; each job as GET /api/v1/jobs/{id} answers it',
        querystring: PageQuery.extend({
          kind: JobKind.optional(),
          state: JobState.optional(),
          sessionId: ResourceId.optional().describe("only this session's jobs"),
        }),
        response: { 200: z.object({ jobs: z.array(Job), nextCursor: NextCursor }), ...problemResponses() },
      },
    },
    async (request, reply) => {
      const { kind, state, sessionId, cursor, limit } = request.query;
      return sendJsonPageText(reply, 'jobs', await listJobs(ctx.db, { kind, state, sessionId }, { cursor, limit }));
    },
  );

  app.get(
    '/api/v1/jobs/:id/items',
    {
      schema: {
        operationId: 'listJobItems',
        tags: ['jobs'],
        summary: "A batch job's items (its child jobs) in creation order, a page at a time",
        params: IdParams,
        querystring: PageQuery,
        response: { 200: z.object({ items: z.array(Job), nextCursor: NextCursor }), ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const { cursor, limit } = request.query;
      return sendJsonPageText(reply, 'items', await listJobItems(ctx.db, request.params.id, { cursor, limit }));
    },
  );

  app.get(
    '/api/v1/jobs/:id',
    {
      schema: {
        operationId: 'getJob',
        tags: ['jobs'],
        summary: 'A job: its state, result or error. `wait` long-polls until it finishes.',
        params: IdParams,
        querystring: z.object({
          wait: z.coerce.number().min(0).max(MAX_WAIT_SECONDS).optional().describe(`seconds to wait for the job to finish (≤ ${MAX_WAIT_SECONDS})`),
        }),
        response: { 200: Job, ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const wait = request.query.wait ?? 0;
      let answer: JobAnswer;
      if (wait > 0) {
        const gone = new AbortController();
        const onClose = () => gone.abort();
        request.raw.once('close', onClose);
        try {
          answer = await ctx.waiter.wait(request.params.id, wait * 1000, gone.signal);
        } finally {
          request.raw.off('close', onClose);
        }
      } else {
        answer = await requireJobAnswer(ctx.db, request.params.id);
      }
      if (!TERMINAL_JOB_STATES.has(answer.state)) reply.header('retry-after', '1');
      return sendJsonText(reply, answer.json);
    },
  );

  app.delete(
    '/api/v1/jobs/:id',
    {
      schema: {
        operationId: 'cancelJob',
        tags: ['jobs'],
        summary: 'Cancel a queued or running job: it ends `cancelled` and a run in flight writes nothing',
        params: IdParams,
        response: { 200: Job, ...problemResponses(404, 409) },
      },
    },
    async (request) => cancelJob(ctx.db, request.params.id),
  );
};
