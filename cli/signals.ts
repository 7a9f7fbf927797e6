/**
 * SIGINT/SIGTERM for ao's long-running processes (`ao start|api|worker`, `npm start`), installed
 * when this module is imported: first, before the rest of ao loads (which takes a good second on a
 * loaded machine), so that no signal at any moment kills the process by default.
 *
 *  - the first signal prints one line on stderr (what stopping means at that moment, see
 *    `describeStopWith`) and resolves `stopRequested()`.
 *  - a second one exits at once: 130 for SIGINT, 143 for SIGTERM. One within DUPLICATE_MS of the
 *    first is the same request: a terminal's Ctrl-C under `npm start` reaches ao twice (from the
 *    terminal, and relayed by npm) a few milliseconds apart.
 *
 * No imports: this must load in no time.
 */
const DUPLICATE_MS = 1000;

let first: { signal: NodeJS.Signals; at: number } | null = null;
let describe = (signal: NodeJS.Signals) => `ao: stopping (${signal}) before starting anything`;
const waiters: Array<(signal: NodeJS.Signals) => void> = [];

function onSignal(signal: NodeJS.Signals): void {
  if (first === null) {
    first = { signal, at: Date.now() };
    process.stderr.write(`${describe(signal)}\n`);
    for (const resolve of waiters.splice(0)) resolve(signal);
    return;
  }
  if (Date.now() - first.at < DUPLICATE_MS) return;
  process.stderr.write(`ao: ${signal} again: exiting now\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

/** the first signal received, if any */
export function stopSignal(): NodeJS.Signals | null {
  return first?.signal ?? null;
}

/** resolves with the first signal (at once when it came already) */
export function stopRequested(): Promise<NodeJS.Signals> {
  if (first) return Promise.resolve(first.signal);
  return new Promise((resolve) => waiters.push(resolve));
}

/** what the line printed at the first signal says, from now on */
export function describeStopWith(fn: (signal: NodeJS.Signals) => string): void {
  describe = fn;
}
