import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * For test/e2e/test-runner-exit.test.ts only: a nested `vitest run` over the canaries, through the
 * suite's own global setup, to prove a failing test makes the run exit non-zero on every services
 * path (AO_SERVICES=embedded included). The canaries end in `.canary.ts`, outside the main suite's
 * `test/**\/*.test.ts`; pick one with a file filter (`vitest run --config … fail`).
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/canary/*.canary.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
  },
});
