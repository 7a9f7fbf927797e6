import { ConfigError } from '../core/config.js';
import { runApi, runStart, runWorker } from './processes.js';
import { serve } from './serve.js';

/**
 * `npm start` (= `ao start`), `npm start -- api`, `npm start -- worker`. The oclif `ao` binary
 * calls the same runners.
 */
const mode = process.argv[2] ?? 'start';
const runners = { start: runStart, api: runApi, worker: runWorker } as const;

if (!(mode in runners)) {
  console.error(`usage: npm start -- [start|api|worker]   (got "${mode}")`);
  process.exit(2);
}

try {
  await serve(runners[mode as keyof typeof runners]);
  process.exit(0);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`ao: invalid configuration:\n${err.message}`);
    process.exit(2);
  }
  console.error(`ao: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
