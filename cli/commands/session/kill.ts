import { Args } from '@oclif/core';
import { Session } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

export default class SessionKill extends AoCommand {
  static override summary = 'Terminate a session (its worktree stays until `ao session rm`)';
  static override examples = ['<%= config.bin %> session kill widgets-3'];
  static override args = { id: Args.string({ description: 'session id', required: true }) };

  async run(): Promise<unknown> {
    const { args } = await this.parse(SessionKill);
    const { body: s } = await this.api().request('POST', `/api/v1/sessions/${encodeURIComponent(args.id)}/kill`, { schema: Session });
    this.say(`session ${s.id} terminated`);
    return s;
  }
}
