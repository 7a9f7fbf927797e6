import { z } from 'zod';
import { AoCommand, CliFailure, EXIT_HELP } from '../base-command.js';

const Status = z.object({
  version: z.string(),
  queueBackend: z.string(),
  postgres: z.object({ ok: z.boolean(), serverVersion: z.string().nullable() }),
  hosts: z.array(z.object({ id: z.string(), workers: z.number(), lastSeenAt: z.string() })),
  github: z.object({ limit: z.number(), remaining: z.number(), resetAt: z.string() }).nullable(),
});

export default class StatusCommand extends AoCommand {
  static override summary = "Where ao stands: the API, Postgres, the queue backend, each host's workers, GitHub's budget";
  static override description = `Exits 1 when the API cannot be reached, Postgres does not answer, or no host has a live worker.
${EXIT_HELP}`;
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json'];

  async run(): Promise<unknown> {
    await this.parse(StatusCommand);
    const api = this.api();
    const { body } = await api.request('GET', '/api/v1/status', { schema: Status });
    const live = body.hosts.filter((h) => h.workers > 0);
    this.say(`api        ${api.baseUrl} (ao ${body.version})`);
    this.say(`postgres   ${body.postgres.ok ? `ok (${body.postgres.serverVersion ?? '?'})` : 'not answering'}`);
    this.say(`queue      ${body.queueBackend}`);
    if (body.hosts.length === 0) this.say('hosts      none has had a worker yet: start one with `ao worker` (or `ao start`)');
    for (const host of body.hosts) {
      this.say(`host       ${host.id}: ${host.workers > 0 ? `${host.workers} live worker${host.workers === 1 ? '' : 's'}` : `no live worker (last seen ${host.lastSeenAt})`}`);
    }
    this.say(
      `github     ${body.github ? `${body.github.remaining} of ${body.github.limit} points left, resets ${body.github.resetAt}` : 'no answer from GitHub yet'}`,
    );
    if (!body.postgres.ok) throw new CliFailure('DATABASE_UNAVAILABLE', 'Postgres does not answer the API', 1, { status: body });
    if (live.length === 0) throw new CliFailure('NO_LIVE_WORKER', 'no host has a live worker: claims and git work wait', 1, { status: body });
    return body;
  }
}
