import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connect, type Pool } from '../../core/db/connect.js';
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

export function testRedisUrl(): string {
  return inject('aoTest').redisUrl;
}
