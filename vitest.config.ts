import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: files run in parallel, each with its own database and queue prefix.
    maxWorkers: 2,
    // the default report, then one plain closing line of counts (test/support/count-reporter.ts)
    reporters: ['default', './test/support/count-reporter.ts'],
  },
});
