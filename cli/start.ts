// first: SIGINT/SIGTERM are handled from here on, not only once the rest of ao has loaded
import './signals.js';

/**
 * `npm start` (= `ao start`), `npm start -- api`, `npm start -- worker`. The oclif `ao` binary
 * calls the same runners. package.json runs this as `exec node --import tsx cli/start.ts`: one
 * process (no tsx CLI relaying signals to a child), which npm's signals reach directly.
 */
const mode = process.argv[2] ?? 'start';

if (mode !== 'start' && mode !== 'api' && mode !== 'worker') {
  console.error(`usage: npm start -- [start|api|worker]   (got "${mode}")`);
  process.exit(2);
}

const [{ serve }, processes] = await Promise.all([import('./serve.js'), import('./processes.js')]);
const runners = { start: processes.runStart, api: processes.runApi, worker: processes.runWorker } as const;
await serve(runners[mode]);
