/**
 * The fake GitHub as a standalone server, for an offline demo:
 *   npx tsx test/fake-github/main.ts [--port 7431] [--seed demo] [--token fake-token]
 */
import { seedDemo } from './demo-seed.js';
import { startFakeGitHub } from './server.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const github = await startFakeGitHub({ port: Number(arg('port') ?? 7431), ...(arg('token') ? { token: arg('token') as string } : {}) });
if ((arg('seed') ?? 'demo') === 'demo') seedDemo(github);
console.log(`fake GitHub GraphQL on ${github.url} (token: ${github.token})`);
console.log('repository acme/widgets: #1 open with a review thread, #2 draft, #3 merged, #4 120 checks, #5 130 threads');
process.once('SIGINT', () => void github.close().then(() => process.exit(0)));
process.once('SIGTERM', () => void github.close().then(() => process.exit(0)));
