import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { QUEUE_BACKEND_CHOICES, type QueueBackendChoice, type QueueBackendName } from '../../core/config.js';
import { runMigrations } from '../../core/db/migrate.js';
import { dropDatabase, ensureDatabase, provideServices, withDatabase, type Services } from '../../core/services.js';

/**
 * Once per `vitest run`: find or start Postgres and Redis (core/services.ts), migrate a template
 * database, and tell test files where it is. Each file then clones the template into a database of
 * its own and uses a Redis key prefix of its own (test/support/env.ts), so files run in parallel and
 * runs never collide. Everything made here is removed at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'ao-test-'));
  // AO_SERVICES=embedded (from the environment) starts embedded ones even when local ones answer.
  // Embedded services run in a service keeper process (core/services.ts), never in this one: their
  // exit hooks would make a failing run exit 0.
  let services: Services | null = null;
  const teardown = async (adminUrl: string | null) => {
    if (services && adminUrl) {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      const dbs = await sql<Array<{ datname: string }>>`
        select datname from pg_database where datname like ${`ao_test_${runId}_%`}`;
      await sql.end();
      for (const { datname } of dbs) await dropDatabase(adminUrl, datname);
      if (services.redis) await deleteRedisKeys(services.redis.url, `ao-test-${runId}-*`);
    }
    await services?.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const queueBackend = testQueueBackendChoice();
    services = await provideServices({ dataDir, persistent: false, database: 'postgres', queueBackend });
    const adminUrl = services.postgres.adminUrl;
    const template = `ao_test_${runId}_template`;
    await ensureDatabase(adminUrl, template);
    await runMigrations(withDatabase(adminUrl, template));
    const backend = services.queue.backend;
    console.error(`ao tests: queues on ${backend === 'redis' ? 'Redis' : 'Postgres'} (${services.queue.reason})`);
    project.provide('aoTest', { runId, adminUrl, template, redisUrl: services.redis?.url ?? null, queueBackend: backend });
    return () => teardown(adminUrl);
  } catch (err) {
    // a setup that fails half-way leaves nothing behind either
    await teardown(services?.postgres.adminUrl ?? null).catch(() => {});
    throw err;
  }
}

/** AO_TEST_QUEUE_BACKEND picks the suite's queue backend (CI runs both); else AO_QUEUE_BACKEND; else auto */
function testQueueBackendChoice(): QueueBackendChoice {
  const value = process.env.AO_TEST_QUEUE_BACKEND ?? process.env.AO_QUEUE_BACKEND ?? 'auto';
  const choice = QUEUE_BACKEND_CHOICES.find((c) => c === value);
  if (choice) return choice;
  throw new Error(`AO_TEST_QUEUE_BACKEND must be auto, redis or postgres (got ${JSON.stringify(value)})`);
}

async function deleteRedisKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    aoTest: { runId: string; adminUrl: string; template: string; redisUrl: string | null; queueBackend: QueueBackendName };
  }
}
