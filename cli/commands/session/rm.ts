import { Args, Flags } from '@oclif/core';
import { AoCommand } from '../../base-command.js';

export default class SessionRm extends AoCommand {
  static override summary = 'Delete a session, its worktree and its PR records';
  static override examples = ['<%= config.bin %> session rm widgets-3', '<%= config.bin %> session rm widgets-3 --force'];
  static override args = { id: Args.string({ description: 'session id', required: true }) };
  static override flags = { force: Flags.boolean({ description: 'discard uncommitted changes in the worktree', default: false }) };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(SessionRm);
    await this.api().request('DELETE', `/api/v1/sessions/${encodeURIComponent(args.id)}${flags.force ? '?force=true' : ''}`);
    this.say(`session ${args.id} deleted`);
    return { deleted: args.id };
  }
}
