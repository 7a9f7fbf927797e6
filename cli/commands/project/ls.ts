import { z } from 'zod';
import { Project } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

export default class ProjectLs extends AoCommand {
  static override summary = 'List projects';
  static override examples = ['<%= config.bin %> project ls', '<%= config.bin %> project ls --json'];

  async run(): Promise<unknown> {
    await this.parse(ProjectLs);
    const { body } = await this.api().request('GET', '/api/v1/projects', { schema: z.object({ projects: z.array(Project) }) });
    this.table(
      body.projects.map((p) => ({ id: p.id, repo: p.repoUrl, branch: p.defaultBranch, path: p.path })),
      ['id', 'repo', 'branch', 'path'],
    );
    return body;
  }
}
