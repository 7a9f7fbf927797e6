import { Flags } from '@oclif/core';
import { z } from 'zod';
import { loadConfig } from '../../core/config.js';
import { AoCommand } from '../base-command.js';
import { followEvents } from '../follow-events.js';

const Event = z.object({ id: z.string(), type: z.string(), key: z.string(), sessionId: z.string().nullable(), createdAt: z.string() }).passthrough();

export default class Events extends AoCommand {
  static override summary = 'Change events after a cursor; --follow streams them as they commit';
  static override description = 'With --follow and --json, each event is one JSON document on its own line (NDJSON). Ctrl-C stops following.';
  static override examples = [
    '<%= config.bin %> events',
    '<%= config.bin %> events --after 1234-56 --limit 50 --json',
    '<%= config.bin %> events --follow --json | jq -c \'select(.type == "pr_updated")\'',
  ];
  static override flags = {
    after: Flags.string({ description: 'an event id (default: from the beginning)' }),
    limit: Flags.integer({ description: 'at most this many', default: 100, min: 1, max: 1000 }),
    follow: Flags.boolean({ char: 'f', description: 'keep streaming new events', default: false }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Events);
    if (flags.follow) {
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      const config = loadConfig();
      const json = this.jsonEnabled();
      await followEvents(config.apiUrl, config.apiToken, flags.after, ({ id, data }) => {
        process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${id}  ${String(data.type)}  ${String(data.sessionId ?? '')}  ${String(data.key)}\n`);
      }, stop.signal);
      return undefined;
    }
    const query = new URLSearchParams({ limit: String(flags.limit), ...(flags.after ? { after: flags.after } : {}) });
    const { body } = await this.api().request('GET', `/api/v1/events?${query}`, { schema: z.object({ events: z.array(Event), nextCursor: z.string() }) });
    this.table(
      body.events.map((e) => ({ id: e.id, type: e.type, key: e.key, session: e.sessionId ?? '', at: e.createdAt })),
      ['id', 'type', 'session', 'key', 'at'],
    );
    return body;
  }
}
