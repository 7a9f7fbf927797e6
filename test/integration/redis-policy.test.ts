import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisEvictionWarning } from '../../core/redis-policy.js';
import { onPath } from '../../core/services.js';

/**
 * A redis-server of the test's own, so changing its eviction policy touches no other test. On a
 * machine without one (zero-dependency mode) there is no Redis whose policy could matter.
 */
const hasRedisServer = onPath('redis-server');
let server: ChildProcess | undefined;
let url: string;

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

beforeAll(async () => {
  if (!hasRedisServer) return;
  const port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { retryStrategy: (n) => (n > 100 ? null : 50), maxRetriesPerRequest: null });
  probe.on('error', () => {});
  await probe.ping();
  probe.disconnect();
});

afterAll(() => {
  server?.kill('SIGKILL');
});

describe.runIf(hasRedisServer)('the Redis eviction policy check at start', () => {
  it('says nothing for noeviction, and warns, naming the policy and the fix, for one that may evict BullMQ keys', async () => {
    const admin = new Redis(url);
    try {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      expect(await redisEvictionWarning(url)).toBeNull();
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const warning = await redisEvictionWarning(url);
      expect(warning).toContain('allkeys-lru');
      expect(warning).toContain('maxmemory-policy noeviction');
    } finally {
      admin.disconnect();
    }
  });

  it('never blocks a start on a Redis it cannot read: no warning', async () => {
    const port = await freePort();
    expect(await redisEvictionWarning(`redis://127.0.0.1:${port}`)).toBeNull();
  });
});
