/**
 * The bare-route anchor: a fastify app (the same fastify as ao's, default options, no logger, no
 * plugins) answering ao's claim path with a 202 of the same shape and headers, doing nothing
 * else. Its rate is what fastify + Node + the load generator can do on this machine; ao's 202
 * acceptance is compared against it. Prints its URL on stdout once it listens.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/api/v1/sessions/:id/pr/claim', async (_request, reply) => {
  const jobId = `job_${randomUUID().replaceAll('-', '')}`;
  const self = `/api/v1/jobs/${jobId}`;
  return reply.status(202).header('location', self).header('retry-after', '1').send({ jobId, state: 'queued', links: { self } });
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${address}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
