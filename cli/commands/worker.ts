// first: SIGINT/SIGTERM are handled from here on, not only once the rest of ao has loaded
import '../signals.js';
import { AoCommand } from '../base-command.js';

export default class Worker extends AoCommand {
  static override enableJsonFlag = false;
  static override summary = 'Run a claim worker alone (scale out: any number, one Postgres and one Redis)';
  static override description =
    'Needs DATABASE_URL and REDIS_URL, or local servers on the default ports; never starts embedded services.';
  static override examples = ['DATABASE_URL=… REDIS_URL=… GITHUB_TOKEN=… <%= config.bin %> worker'];

  async run(): Promise<void> {
    await this.parse(Worker);
    // loaded here, after the signal handlers: they take a good second to load on a busy machine
    const [{ serve }, { runWorker }] = await Promise.all([import('../serve.js'), import('../processes.js')]);
    await serve(runWorker);
  }
}
