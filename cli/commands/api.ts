import { runApi } from '../processes.js';
import { serve } from '../serve.js';
import { AoCommand } from '../base-command.js';

export default class Api extends AoCommand {
  static override enableJsonFlag = false;
  static override summary = 'Run the API alone (scale out: any number, one Postgres and one Redis)';
  static override description =
    'Needs DATABASE_URL and REDIS_URL, or local servers on the default ports; never starts embedded services. Binding beyond loopback (AO_HOST) requires AO_API_TOKEN.';
  static override examples = ['AO_HOST=0.0.0.0 AO_API_TOKEN=… DATABASE_URL=… REDIS_URL=… <%= config.bin %> api'];

  async run(): Promise<void> {
    await this.parse(Api);
    await serve(runApi);
  }
}
