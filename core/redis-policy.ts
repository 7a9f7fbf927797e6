import { Redis } from 'ioredis';

/**
 * BullMQ's production advice (and ao's, since Redis carries its queues, leases and budget): a Redis
 * that may evict keys under memory pressure can drop a job or a lock, so anything but `noeviction`
 * deserves a warning at start. Null when the policy is fine or cannot be read (a managed Redis may
 * refuse CONFIG): ao warns about what it knows, never blocks on it.
 */
export async function redisEvictionWarning(url: string): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
    const policy = Array.isArray(reply) ? String(reply[1] ?? '') : '';
    if (policy === '' || policy === 'noeviction') return null;
    return `Redis at ${new URL(url).host} has maxmemory-policy ${policy}: under memory pressure it may evict BullMQ's keys (jobs, locks); set maxmemory-policy noeviction`;
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}
