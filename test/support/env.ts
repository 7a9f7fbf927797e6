import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connect, type Pool } from '../../core/db/connect.js';
import type { QueueBackendName } from '../../core/config.js';
import type { QueueSettings } from '../../core/queue.js';
import { ensureDatabase, withDatabase } from '../../core/services.js';

/** A database cloned from the migrated template, for one test file (or one test). */
export interface TestDatabase {
  url: string;
  sql: Pool;
  close(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const { runId, adminUrl, template } = inject('aoTest');
  const name = `ao_test_${runId}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(adminUrl, name, template);
  const url = withDatabase(adminUrl, name);
  const sql = connect(url, { max: 8, applicationName: 'ao-test' });
  return { url, sql, close: () => sql.end({ timeout: 5 }) };
}

/** A BullMQ/Redis key prefix no other file or run uses. */
export function testRedisPrefix(): string {
  const { runId } = inject('aoTest');
  return `ao-test-${runId}-${randomBytes(4).toString('hex')}`;
}

/** The run's Redis; tests that use Redis itself (not the queues) skip when there is none (see hasTestRedis). */
export function testRedisUrl(): string {
  const { redisUrl } = inject('aoTest');
  if (!redisUrl) throw new Error('this test needs Redis, and this run has none (no REDIS_URL, none on 127.0.0.1:6379, no redis-server on PATH)');
  return redisUrl;
}

export function hasTestRedis(): boolean {
  return inject('aoTest').redisUrl !== null;
}

/**
 * The queue backend of this run (AO_TEST_QUEUE_BACKEND, else AO_QUEUE_BACKEND, else auto: Redis
 * when there is one): the whole suite runs on either, and CI runs it on both.
 */
export function testQueueBackend(): QueueBackendName {
  return inject('aoTest').queueBackend;
}

/** Queue settings for a stack on `databaseUrl` (the Postgres backend keeps its queues there). */
export function testQueueSettings(databaseUrl: string, retry?: QueueSettings['retry']): QueueSettings {
  const common = { prefix: testRedisPrefix(), ...(retry ? { retry } : {}) };
  return testQueueBackend() === 'redis'
    ? { backend: 'redis', redisUrl: testRedisUrl(), ...common }
    : { backend: 'postgres', postgresUrl: databaseUrl, ...common };
}

/** The environment that gives a child process (an `ao` command, a support process) these queue settings. */
export function queueEnv(settings: QueueSettings): NodeJS.ProcessEnv {
  return settings.backend === 'redis'
    ? { AO_QUEUE_BACKEND: 'redis', REDIS_URL: settings.redisUrl, AO_QUEUE_PREFIX: settings.prefix }
    : { AO_QUEUE_BACKEND: 'postgres', AO_QUEUE_PREFIX: settings.prefix };
}

/** The queue settings a support process (test/support/*-process.ts) was given by queueEnv. */
export function queueSettingsFromEnv(retry?: QueueSettings['retry']): QueueSettings {
  const prefix = process.env.AO_QUEUE_PREFIX;
  const databaseUrl = process.env.DATABASE_URL;
  if (!prefix || !databaseUrl) throw new Error('AO_QUEUE_PREFIX and DATABASE_URL are required');
  const common = { prefix, ...(retry ? { retry } : {}) };
  if (process.env.AO_QUEUE_BACKEND === 'postgres') return { backend: 'postgres', postgresUrl: databaseUrl, ...common };
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is required (or AO_QUEUE_BACKEND=postgres)');
  return { backend: 'redis', redisUrl, ...common };
}
