import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { QUEUE_BACKENDS } from '../../core/config.js';
import { listHosts } from '../../core/store/host-workers.js';
import { aoVersion } from '../../core/version.js';
import type { ApiContext } from '../context.js';
import { problemResponses } from '../problem.js';

const Status = z
  .object({
    version: z.string(),
    queueBackend: z.enum(QUEUE_BACKENDS),
    postgres: z.object({ ok: z.boolean(), serverVersion: z.string().nullable() }),
    hosts: z.array(z.object({ id: z.string(), workers: z.number().int().describe('live worker processes'), lastSeenAt: z.string() })),
    github: z
      .object({ limit: z.number().int(), remaining: z.number().int(), resetAt: z.string() })
      .nullable()
      .describe("GitHub's budget as the workers last saw it; null before any GitHub answer"),
  })
  .meta({ id: 'Status' });

export const statusRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.get(
    '/api/v1/status',
    {
      schema: {
        operationId: 'getStatus',
        tags: ['health'],
        summary: "What ao runs on: its version, Postgres, the queue backend, each host's live workers, GitHub's budget",
        response: { 200: Status, ...problemResponses() },
      },
    },
    async () => {
      const [postgres, hosts, github] = await Promise.all([
        ctx.db<[{ v: string }]>`select current_setting('server_version') as v`.then(
          ([row]) => ({ ok: true, serverVersion: row.v }),
          () => ({ ok: false, serverVersion: null }),
        ),
        listHosts(ctx.db).catch(() => []),
        ctx.githubBudget().catch(() => null),
      ]);
      return { version: aoVersion(), queueBackend: ctx.queue.backend, postgres, hosts, github };
    },
  );
};
