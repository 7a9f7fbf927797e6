import { loadConfig, type Config } from '../core/config.js';
import { untilSignal, type Running } from './processes.js';

/** Runs one of ao's processes until Ctrl-C / SIGTERM, saying where it serves on stderr. */
export async function serve(run: (config: Config) => Promise<Running>): Promise<void> {
  const running = await run(loadConfig());
  process.stderr.write(`ao: ${running.apiUrl ? `API on ${running.apiUrl}` : 'worker running'}; Ctrl-C to stop\n`);
  await untilSignal(running);
}
