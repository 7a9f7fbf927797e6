/**
 * A claim worker in a process of its own, so a test can SIGKILL (or SIGSTOP) it in any state.
 * Configured by environment; prints "ready" on stdout once it takes jobs.
 * AO_TEST_CLOCK_SKEW_MS gives it a wrong wall clock (skew-clock.ts, imported first).
 */
import './skew-clock.js';
import { connect } from '../../core/db/connect.js';
import { requiredEnv } from './child.js';
import { queueSettingsFromEnv } from './env.js';
import { startClaimWorker } from '../../worker/claim-worker.js';
import { createGitHubClient } from '../../worker/github/client.js';


const db = connect(requiredEnv('DATABASE_URL'), { max: 4, applicationName: 'ao-test-worker' });
const worker = await startClaimWorker({
  db,
  hostId: requiredEnv('AO_HOST_ID'),
  dataDir: requiredEnv('AO_DATA_DIR'),
  queue: queueSettingsFromEnv({ attempts: 4, delayMs: 50 }),
  github: (budget) => createGitHubClient({ url: requiredEnv('GITHUB_GRAPHQL_URL'), token: requiredEnv('GITHUB_TOKEN'), budget }),
  concurrency: 4,
  reclaim: { refreshIntervalSeconds: Number(process.env.REFRESH_SECONDS ?? 0) },
  lockDurationMs: Number(process.env.LOCK_MS ?? 30_000),
  stalledIntervalMs: Number(process.env.LOCK_MS ?? 30_000),
  ...(process.env.MAX_LOST_RUNS ? { maxLostRuns: Number(process.env.MAX_LOST_RUNS) } : {}),
  // SWEEP_MS: how often the sweeper and the janitor run (default 15 s)
  ...(process.env.SWEEP_MS ? { sweep: { intervalMs: Number(process.env.SWEEP_MS), staleSeconds: 60 } } : {}),
  log: process.env.AO_TEST_LOG ? (m, f) => console.error('[worker-process]', m, f) : () => {},
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void worker.close(1000).then(() => db.end()).then(() => process.exit(0));
});
