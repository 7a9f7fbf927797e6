import { loadConfig } from '../../core/config.js';
import { runWorker, untilSignal } from '../processes.js';
import { AoCommand } from '../base-command.js';

export default class Worker extends AoCommand {
  static override enableJsonFlag = false;
  static override summary = 'Run a claim worker alone (scale out: any number, one Postgres and one Redis)';
  static override description =
    'Needs DATABASE_URL and REDIS_URL, or local servers on the default ports; never starts embedded services.';
  static override examples = ['DATABASE_URL=… REDIS_URL=… GITHUB_TOKEN=… <%= config.bin %> worker'];

  async run(): Promise<void> {
    await this.parse(Worker);
    const running = await runWorker(loadConfig());
    this.progress(`ao: ${running.apiUrl ? `API on ${running.apiUrl}` : 'worker running'}; Ctrl-C to stop`);
    await untilSignal(running);
  }
}
