import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';

const Health = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()).optional() });

export const healthRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.get(
    '/healthz',
    { schema: { operationId: 'health', tags: ['health'], summary: 'The process is alive', response: { 200: Health } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'ready',
        tags: ['health'],
        summary: 'Postgres and the queue answer',
        response: { 200: Health, 503: Health },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, string> = {};
      const probe = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = err instanceof Error ? err.message : String(err);
        }
      };
      await Promise.all([probe('postgres', () => ctx.db`select 1`), probe('queue', () => ctx.queue.ping())]);
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
    },
  );
};
