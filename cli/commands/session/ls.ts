import { Flags } from '@oclif/core';
import { z } from 'zod';
import { Session, SessionState } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

const SessionPage = z.object({ sessions: z.array(Session), nextCursor: z.string().nullable() });

/** Sessions per request: the API's largest page. */
const PAGE_SIZE = 1000;

export default class SessionLs extends AoCommand {
  static override summary = 'List sessions';
  static override examples = ['<%= config.bin %> session ls', '<%= config.bin %> session ls --project widgets --state active'];
  static override flags = {
    project: Flags.string({ description: 'only this project' }),
    state: Flags.string({ description: 'only this state', options: SessionState.options }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(SessionLs);
    const sessions: Session[] = [];
    // the API answers a page at a time: follow nextCursor to the end
    let cursor: string | null = null;
    do {
      const query: URLSearchParams = new URLSearchParams({
        ...(flags.project ? { projectId: flags.project } : {}),
        ...(flags.state ? { state: flags.state } : {}),
        ...(cursor ? { cursor } : {}),
        limit: String(PAGE_SIZE),
      });
      const page: z.infer<typeof SessionPage> = (await this.api().request('GET', `/api/v1/sessions?${query}`, { schema: SessionPage })).body;
      sessions.push(...page.sessions);
      cursor = page.nextCursor;
    } while (cursor !== null);
    this.table(
      sessions.map((s) => ({ id: s.id, kind: s.kind, state: s.state, branch: s.branch, workspace: s.workspacePath })),
      ['id', 'kind', 'state', 'branch', 'workspace'],
    );
    return { sessions };
  }
}
