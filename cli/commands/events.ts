import { Flags } from '@oclif/core';
import { z } from 'zod';
import { AoCommand } from '../base-command.js';

const Event = z.object({ id: z.string(), type: z.string(), key: z.string(), sessionId: z.string().nullable(), createdAt: z.string() }).passthrough();

export default class Events extends AoCommand {
  static override summary = 'Change events after a cursor';
  static override examples = ['<%= config.bin %> events', '<%= config.bin %> events --after 1234-56 --limit 50 --json'];
  static override flags = {
    after: Flags.string({ description: 'an event id (default: from the beginning)' }),
    limit: Flags.integer({ description: 'at most this many', default: 100, min: 1, max: 1000 }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Events);
    const query = new URLSearchParams({ limit: String(flags.limit), ...(flags.after ? { after: flags.after } : {}) });
    const { body } = await this.api().request('GET', `/api/v1/events?${query}`, { schema: z.object({ events: z.array(Event), nextCursor: z.string() }) });
    this.table(
      body.events.map((e) => ({ id: e.id, type: e.type, key: e.key, session: e.sessionId ?? '', at: e.createdAt })),
      ['id', 'type', 'session', 'key', 'at'],
    );
    return body;
  }
}
