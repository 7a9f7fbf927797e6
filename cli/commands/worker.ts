import { runWorker } from '../processes.js';
import { serve } from '../serve.js';
import { AoCommand } from '../base-command.js';

export default class Worker extends AoCommand {
  static override enableJsonFlag = false;
  static override summary = 'Run a claim worker alone (scale out: any number, one Postgres and one Redis)';
  static override description =
    'Needs DATABASE_URL and REDIS_URL, or local servers on the default ports; never starts embedded services.';
  static override examples = ['DATABASE_URL=… REDIS_URL=… GITHUB_TOKEN=… <%= config.bin %> worker'];

  async run(): Promise<void> {
    await this.parse(Worker);
    await serve(runWorker);
  }
}
