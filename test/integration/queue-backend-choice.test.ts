import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provideServices, ServiceError } from '../../core/services.js';
import { createTestDatabase, hasTestRedis, testRedisUrl, type TestDatabase } from '../support/env.js';

/**
 * Which store carries the queues (SPEC §7, AO_QUEUE_BACKEND), decided by provideServices. Processes
 * that do not start embedded services (`ao api`, `ao worker`) are used here, so nothing is started:
 * AO_SERVICES=embedded keeps the machine's own Redis out of the decision, and PATH decides whether a
 * redis-server could be started.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const base = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ DATABASE_URL: db.url, AO_SERVICES: 'embedded', PATH: '/nonexistent', ...extra });

describe('the queue backend', () => {
  it('auto, with no Redis given, answering or on PATH: Postgres, saying why', async () => {
    const services = await provideServices({ env: base(), dataDir: '/nonexistent', allowEmbedded: false });
    expect(services.redis).toBeNull();
    expect(services.queue).toEqual({ backend: 'postgres', reason: 'no Redis: REDIS_URL is not set, AO_SERVICES=embedded and no redis-server is on PATH' });
  });

  it('postgres: Postgres even when a Redis is given', async () => {
    const services = await provideServices({ env: base({ REDIS_URL: 'redis://127.0.0.1:1' }), dataDir: '/nonexistent', allowEmbedded: false, queueBackend: 'postgres' });
    expect(services.redis).toBeNull();
    expect(services.queue).toEqual({ backend: 'postgres', reason: 'AO_QUEUE_BACKEND=postgres' });
  });

  it('redis, with none to be had: a clear error that names the way out', async () => {
    const err = await provideServices({ env: base(), dataDir: '/nonexistent', allowEmbedded: false, queueBackend: 'redis' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as Error).message).toContain('AO_QUEUE_BACKEND=postgres');
  });

  it.runIf(hasTestRedis())('auto, with REDIS_URL: Redis', async () => {
    const services = await provideServices({ env: base({ REDIS_URL: testRedisUrl() }), dataDir: '/nonexistent', allowEmbedded: false });
    expect(services.queue).toEqual({ backend: 'redis', reason: 'REDIS_URL' });
    expect(services.redis).toEqual({ url: testRedisUrl(), origin: 'env' });
  });
});
