/**
 * The API in a process of its own, so a test can SIGKILL it mid-request. Configured by
 * environment; prints its URL on stdout once it listens.
 */
import { startApiServer } from '../../api/server.js';
import { connect } from '../../core/db/connect.js';
import { requiredEnv } from './child.js';
import { queueSettingsFromEnv } from './env.js';


const db = connect(requiredEnv('DATABASE_URL'), { max: 4, applicationName: 'ao-test-api' });
const api = await startApiServer({
  db,
  queue: queueSettingsFromEnv(),
  hostId: requiredEnv('AO_HOST_ID'),
  apiToken: null,
  host: '127.0.0.1',
  port: 0,
  provisionalLeaseSeconds: Number(process.env.LEASE_SECONDS ?? 600),
  ...(process.env.HOST_WAIT_MS ? { hostWaitMs: Number(process.env.HOST_WAIT_MS) } : {}),
});
process.stdout.write(`${api.url}\n`);
process.once('SIGTERM', () => {
  void api.close().then(() => db.end()).then(() => process.exit(0));
});
