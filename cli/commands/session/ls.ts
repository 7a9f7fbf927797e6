import { Flags } from '@oclif/core';
import { z } from 'zod';
import { Session, SessionState } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

export default class SessionLs extends AoCommand {
  static override summary = 'List sessions';
  static override examples = ['<%= config.bin %> session ls', '<%= config.bin %> session ls --project widgets --state active'];
  static override flags = {
    project: Flags.string({ description: 'only this project' }),
    state: Flags.string({ description: 'only this state', options: SessionState.options }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(SessionLs);
    const query = new URLSearchParams({ ...(flags.project ? { projectId: flags.project } : {}), ...(flags.state ? { state: flags.state } : {}) });
    const { body } = await this.api().request('GET', `/api/v1/sessions${query.size ? `?${query}` : ''}`, { schema: z.object({ sessions: z.array(Session) }) });
    this.table(
      body.sessions.map((s) => ({ id: s.id, kind: s.kind, state: s.state, branch: s.branch, workspace: s.workspacePath })),
      ['id', 'kind', 'state', 'branch', 'workspace'],
    );
    return body;
  }
}
