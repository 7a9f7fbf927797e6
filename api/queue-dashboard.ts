import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board at /admin/queues (SPEC §7): every queue ao has — the re-claim queue and, per host,
 * its claim and host-work queues — as they are when the dashboard is opened (hosts come and go).
 * Read-only unless the API has a token: then the API's bearer auth guards it like every other
 * route, and whoever holds the token may retry or remove jobs. (Postgres stays the record: a job
 * removed here is handed over again by the sweeper.)
 */
export async function registerQueueDashboard(
  app: FastifyInstance,
  options: { queues: () => Promise<Array<Queue<unknown>>>; readOnly: boolean },
): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'ao queues' } } });
  let shown = '';
  let refreshedAt = 0;
  const refresh = async () => {
    if (Date.now() - refreshedAt < 2000) return;
    refreshedAt = Date.now();
    const queues = await options.queues();
    const names = queues.map((q) => q.name).sort().join(',');
    if (names === shown) return;
    shown = names;
    board.replaceQueues(queues.map((q) => new BullMQAdapter(q, { readOnlyMode: options.readOnly })));
  };
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async () => {
        await refresh().catch(() => {});
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
    },
  );
}
