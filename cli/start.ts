import { runApi, runStart, runWorker } from './processes.js';
import { serve } from './serve.js';

/**
 * `npm start` (= `ao start`), `npm start -- api`, `npm start -- worker`. The oclif `ao` binary
 * calls the same runners. package.json runs this as `exec node --import tsx cli/start.ts`: one
 * process (no tsx CLI relaying signals to a child), which npm's signals reach directly.
 */
const mode = process.argv[2] ?? 'start';
const runners = { start: runStart, api: runApi, worker: runWorker } as const;

if (!(mode in runners)) {
  console.error(`usage: npm start -- [start|api|worker]   (got "${mode}")`);
  process.exit(2);
}

await serve(runners[mode as keyof typeof runners]);
