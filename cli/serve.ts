import { ConfigError, loadConfig, type Config } from '../core/config.js';
import { describeError } from '../core/services.js';
import { DRAIN_MS, type Running } from './processes.js';

/**
 * Runs one of ao's processes (`ao start|api|worker`, `npm start`) until SIGINT/SIGTERM, saying on
 * stderr where it serves, and exits:
 *
 *  - the handlers are installed before anything starts. A signal during startup lets startup
 *    finish (or fail), then everything stops: exit 0 (1 when startup failed, 2 for bad config).
 *  - the first signal prints one line, drains (in-flight claims get DRAIN_MS to finish, then go
 *    back to the queue), stops the API, the connections and the embedded services: exit 0.
 *  - a second signal exits at once (130 for SIGINT, 143 for SIGTERM); the service keeper then
 *    stops the embedded services by itself. A repeat within DUPLICATE_MS of the first is the same
 *    request: a terminal's Ctrl-C under `npm start` reaches this process twice (from the terminal
 *    and relayed by npm) a few milliseconds apart.
 */
const DUPLICATE_MS = 1000;

export async function serve(run: (config: Config) => Promise<Running>): Promise<never> {
  let running: Running | null = null;
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  let stopRequested!: () => void;
  const stopping = new Promise<void>((resolve) => (stopRequested = resolve));

  const onSignal = (signal: NodeJS.Signals) => {
    if (first === null) {
      first = { signal, at: Date.now() };
      process.stderr.write(`${stoppingLine(signal, running)}\n`);
      stopRequested();
      return;
    }
    if (Date.now() - first.at < DUPLICATE_MS) return;
    process.stderr.write(`ao: ${signal} again: exiting now\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    running = await run(loadConfig());
  } catch (err) {
    process.stderr.write(`ao: ${describeError(err)}\n`);
    return process.exit(err instanceof ConfigError ? 2 : 1);
  }
  if (first === null) {
    process.stderr.write(`ao: ${running.apiUrl ? `API on ${running.apiUrl}` : 'worker running'}; Ctrl-C to stop\n`);
  }
  await stopping;
  try {
    await running.stop();
  } catch (err) {
    process.stderr.write(`ao: stopping failed: ${describeError(err)}\n`);
    return process.exit(1);
  }
  return process.exit(0);
}

function stoppingLine(signal: NodeJS.Signals, running: Running | null): string {
  const again = 'Ctrl-C again to exit at once';
  if (running === null) return `ao: stopping (${signal}) as soon as startup is done; ${again}`;
  if (!running.worker) return `ao: stopping (${signal}); ${again}`;
  return `ao: stopping (${signal}): draining in-flight claims (up to ${DRAIN_MS / 1000} s, then they go back to the queue); ${again}`;
}
