import { Args } from '@oclif/core';
import { Session } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

export default class SessionShow extends AoCommand {
  static override summary = 'Show a session';
  static override examples = ['<%= config.bin %> session show widgets-3'];
  static override args = { id: Args.string({ description: 'session id', required: true }) };

  async run(): Promise<unknown> {
    const { args } = await this.parse(SessionShow);
    const { body: s } = await this.api().request('GET', `/api/v1/sessions/${encodeURIComponent(args.id)}`, { schema: Session });
    for (const [k, v] of Object.entries(s)) this.say(`${k.padEnd(15)} ${v ?? ''}`);
    return s;
  }
}
