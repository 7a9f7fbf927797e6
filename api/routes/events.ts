import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseCursor, readEvents } from '../../core/store/read-events.js';
import type { ApiContext } from '../context.js';
import { problemResponses } from '../problem.js';

const Image = z.record(z.string(), z.unknown()).nullable();

export const Event = z
  .object({
    id: z.string().describe('the cursor: pass it back as `after`'),
    txId: z.string(),
    op: z.enum(['insert', 'update', 'delete']),
    type: z.string(),
    entity: z.enum(['session', 'pr', 'check', 'review_thread', 'job']),
    key: z.string(),
    projectId: z.string().nullable(),
    sessionId: z.string().nullable(),
    jobId: z.string().nullable().describe('the job that caused the change'),
    before: Image.describe('the changed columns as they were'),
    after: Image.describe('the whole row as it is now'),
    createdAt: z.string(),
  })
  .meta({ id: 'Event' });

export const eventRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.get(
    '/api/v1/events',
    {
      schema: {
        operationId: 'listEvents',
        tags: ['events'],
        summary: 'Change events after a cursor, gap-free and in commit-consistent order',
        querystring: z.object({
          after: z.string().optional().describe('an event id; absent or 0: from the beginning'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: z.object({ events: z.array(Event), nextCursor: z.string() }), ...problemResponses() },
      },
    },
    async (request) => readEvents(ctx.db, { after: parseCursor(request.query.after), limit: request.query.limit }),
  );
};
