// first: SIGINT/SIGTERM are handled from here on, not only once the rest of ao has loaded
import '../signals.js';
import { AoCommand } from '../base-command.js';

export default class Api extends AoCommand {
  static override enableJsonFlag = false;
  static override summary = 'Run the API alone (scale out: any number, one Postgres and one Redis)';
  static override description =
    'Needs DATABASE_URL and REDIS_URL, or local servers on the default ports; never starts embedded services. Binding beyond loopback (AO_HOST) requires AO_API_TOKEN.';
  static override examples = ['AO_HOST=0.0.0.0 AO_API_TOKEN=… DATABASE_URL=… REDIS_URL=… <%= config.bin %> api'];

  async run(): Promise<void> {
    await this.parse(Api);
    // loaded here, after the signal handlers: they take a good second to load on a busy machine
    const [{ serve }, { runApi }] = await Promise.all([import('../serve.js'), import('../processes.js')]);
    await serve(runApi);
  }
}
