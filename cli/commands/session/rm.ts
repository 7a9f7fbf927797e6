import { Args, Flags } from '@oclif/core';
import { ApiError } from '../../api-client.js';
import { AoCommand } from '../../base-command.js';

/** The API says how to discard the changes in its own terms (`force`); on the command line that is `--force`. */
function withForceFlag(err: ApiError): ApiError {
  let message = err.message.includes('--force') ? err.message : err.message.replace(/\bpass force\b/, 'pass --force');
  if (!message.includes('--force')) message = message.replace(/( \[request [^\]]*\])?$/, '; pass --force to discard them$1');
  return new ApiError(err.code, message, err.status, err.details);
}

export default class SessionRm extends AoCommand {
  static override summary = 'Delete a session, its worktree and its PR records';
  static override examples = ['<%= config.bin %> session rm widgets-3', '<%= config.bin %> session rm widgets-3 --force'];
  static override args = { id: Args.string({ description: 'session id', required: true }) };
  static override flags = { force: Flags.boolean({ description: 'discard uncommitted changes in the worktree', default: false }) };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(SessionRm);
    await this.api()
      .request('DELETE', `/api/v1/sessions/${encodeURIComponent(args.id)}${flags.force ? '?force=true' : ''}`)
      .catch((err: unknown) => Promise.reject(err instanceof ApiError && err.code === 'WORKSPACE_DIRTY' ? withForceFlag(err) : err));
    this.say(`session ${args.id} deleted`);
    return { deleted: args.id };
  }
}
