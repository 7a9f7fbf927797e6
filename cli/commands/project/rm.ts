import { Args, Flags } from '@oclif/core';
import { AoCommand, EXIT_HELP } from '../../base-command.js';

export default class ProjectRm extends AoCommand {
  static override summary = 'Archive a project (refused while it has live sessions, unless --force)';
  static override description = `The project stays listed with the time it was archived; no new session can be made in it. Its sessions and PRs are kept.
${EXIT_HELP}`;
  static override examples = ['<%= config.bin %> project rm widgets', '<%= config.bin %> project rm widgets --force'];
  static override args = { id: Args.string({ description: 'project id', required: true }) };
  static override flags = { force: Flags.boolean({ description: 'archive it even while live sessions exist' }) };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(ProjectRm);
    await this.api().request('DELETE', `/api/v1/projects/${encodeURIComponent(args.id)}${flags.force ? '?force=true' : ''}`);
    this.say(`project ${args.id} archived`);
    return { projectId: args.id, archived: true };
  }
}
