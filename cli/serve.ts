import { describeStopWith, stopRequested, stopSignal } from './signals.js';
import { ConfigError, loadConfig, type Config } from '../core/config.js';
import { describeError } from '../core/services.js';
import { DRAIN_MS, type Running } from './processes.js';

/**
 * Runs one of ao's processes (`ao start|api|worker`, `npm start`) until SIGINT/SIGTERM, saying on
 * stderr where it serves, then exits. Signals (cli/signals.ts, installed before ao loads):
 *
 *  - before startup begins: nothing is started; exit 0.
 *  - during startup: startup finishes (or fails), then everything stops; exit 0 (1 when startup
 *    failed, 2 for a bad configuration).
 *  - once running: in-flight claims get DRAIN_MS to finish, then go back to the queue; the API,
 *    the connections and the embedded services stop; exit 0 (1 when stopping failed).
 *  - a second signal exits at once (130/143); the service keeper then stops the embedded
 *    services by itself.
 * Each first signal prints one line saying what happens.
 */
export async function serve(run: (config: Config) => Promise<Running>): Promise<never> {
  if (stopSignal() !== null) return process.exit(0);
  let running: Running | null = null;
  describeStopWith((signal) => stoppingLine(signal, running));
  try {
    running = await run(loadConfig());
  } catch (err) {
    process.stderr.write(`ao: ${describeError(err)}\n`);
    return process.exit(err instanceof ConfigError ? 2 : 1);
  }
  if (stopSignal() === null) {
    // on a terminal, where ao runs and on what, above the logs; elsewhere the one line scripts wait for
    if (process.stderr.isTTY) process.stderr.write(summaryBlock(running.summary));
    process.stderr.write(`ao: ${running.apiUrl ? `API on ${running.apiUrl}` : 'worker running'}; Ctrl-C to stop\n`);
  }
  await stopRequested();
  try {
    await running.stop();
  } catch (err) {
    process.stderr.write(`ao: stopping failed: ${describeError(err)}\n`);
    return process.exit(1);
  }
  return process.exit(0);
}

function summaryBlock(lines: Array<[string, string]>): string {
  const width = Math.max(...lines.map(([label]) => label.length));
  return `\n${lines.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n')}\n\n`;
}

function stoppingLine(signal: NodeJS.Signals, running: Running | null): string {
  const again = 'Ctrl-C again to exit at once';
  if (running === null) return `ao: stopping (${signal}) as soon as startup is done; ${again}`;
  if (!running.worker) return `ao: stopping (${signal}); ${again}`;
  return `ao: stopping (${signal}): draining in-flight claims (up to ${DRAIN_MS / 1000} s, then they go back to the queue); ${again}`;
}
