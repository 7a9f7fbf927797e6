import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseCursor, readEvents, type Cursor } from '../../core/store/read-events.js';
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

/** How often an idle stream looks for new events: quickly after activity, slower when quiet. */
const IDLE_POLL_MS = { min: 100, max: 1000 };
const HEARTBEAT_MS = 15_000;

export const eventStreamRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  // open streams end when the server shuts down, or close() would wait for the clients forever
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const stop of streams) stop();
  });

  app.get(
    '/api/v1/events/stream',
    {
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary: 'Change events as Server-Sent Events (id: the cursor, event: the type, data: the Event); resumes after Last-Event-ID',
        querystring: z.object({ after: z.string().optional().describe('used when no Last-Event-ID header is sent') }),
        headers: z.object({ 'last-event-id': z.string().optional() }),
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('text/event-stream'), ...problemResponses() },
      },
    },
    async (request, reply) => {
      // parse before answering, so a bad cursor is a normal 400
      let cursor: Cursor = parseCursor(request.headers['last-event-id'] ?? request.query.after);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': request.id,
      });
      res.write(': ao event stream\n\n');
      let open = true;
      let wake: (() => void) | undefined;
      const stop = () => {
        open = false;
        wake?.();
      };
      streams.add(stop);
      request.raw.once('close', stop);
      let idle = IDLE_POLL_MS.min;
      let lastWrite = Date.now();
      while (open) {
        try {
          const page = await readEvents(ctx.db, { after: cursor, limit: 500 });
          for (const event of page.events) {
            res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
          }
          if (page.events.length > 0) {
            cursor = parseCursor(page.nextCursor);
            lastWrite = Date.now();
            idle = IDLE_POLL_MS.min;
            continue;
          }
        } catch (err) {
          request.log.warn({ err }, 'event stream read failed; retrying');
        }
        if (Date.now() - lastWrite > HEARTBEAT_MS) {
          res.write(': heartbeat\n\n');
          lastWrite = Date.now();
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, idle);
          wake = () => (clearTimeout(timer), resolve());
        });
        idle = Math.min(idle * 2, IDLE_POLL_MS.max);
      }
      streams.delete(stop);
      res.end();
    },
  );
};
