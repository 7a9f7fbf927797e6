// first: SIGINT/SIGTERM are handled from here on, not only once the rest of ao has loaded
import '../signals.js';
import { AoCommand } from '../base-command.js';

export default class Start extends AoCommand {
  static override enableJsonFlag = false;
  static override summary = 'Run ao: the API and a claim worker in one process';
  static override description =
    'Uses DATABASE_URL and REDIS_URL when set, else local servers on the default ports (skipped with AO_SERVICES=embedded), else starts an embedded Postgres and a redis-server from PATH. Ctrl-C or SIGTERM stops gracefully: in-flight claims get 10 s to finish, then go back to the queue; a second signal exits at once.';
  static override examples = ['<%= config.bin %> start', 'AO_PORT=8080 GITHUB_TOKEN=$(gh auth token) <%= config.bin %> start'];

  async run(): Promise<void> {
    await this.parse(Start);
    // loaded here, after the signal handlers: they take a good second to load on a busy machine
    const [{ serve }, { runStart }] = await Promise.all([import('../serve.js'), import('../processes.js')]);
    await serve(runStart);
  }
}
