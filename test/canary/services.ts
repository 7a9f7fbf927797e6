import postgres from 'postgres';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** What a canary touches: the Postgres and the Redis the global setup provided. */
export async function touchServices(): Promise<{ postgres: number; redis: string | null }> {
  const { adminUrl, redisUrl } = inject('aoTest');
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: 1 }) : null;
  try {
    const [row] = await sql<[{ one: number }]>`select 1 as one`;
    return { postgres: row.one, redis: redis ? await redis.ping() : null };
  } finally {
    await sql.end({ timeout: 1 });
    redis?.disconnect();
  }
}
