import { resolve } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { Project } from '../../../core/domain.js';
import { git } from '../../../worker/workspace/git.js';
import { AoCommand, EXIT_HELP } from '../../base-command.js';
import { ghRepoUrl } from '../../claim-support.js';

export default class ProjectAdd extends AoCommand {
  static override summary = 'Register a repository checkout as a project';
  static override description = `The repository URL comes from --repo, else the checkout's origin, else \`gh repo view\`.\n${EXIT_HELP}`;
  static override examples = ['<%= config.bin %> project add ~/src/widgets', '<%= config.bin %> project add . --id widgets --repo https://github.com/acme/widgets'];
  static override args = { path: Args.string({ description: 'path of the git checkout', required: true }) };
  static override flags = {
    id: Flags.string({ description: 'project id (default: a slug of the folder name)' }),
    repo: Flags.string({ description: 'GitHub URL of the repository' }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(ProjectAdd);
    const path = resolve(args.path);
    let repoUrl = flags.repo;
    if (repoUrl === undefined) {
      const origin = await git(path, ['remote', 'get-url', 'origin']).catch(() => '');
      if (origin === '') repoUrl = (await ghRepoUrl(path)) ?? undefined;
    }
    const { body: project } = await this.api().request('POST', '/api/v1/projects', {
      body: { path, ...(flags.id ? { id: flags.id } : {}), ...(repoUrl ? { repoUrl } : {}) },
      schema: Project,
    });
    this.say(`project ${project.id} → ${project.path}`);
    this.say(`repo: ${project.repoUrl || '(none: claims need full PR URLs)'}  default branch: ${project.defaultBranch}`);
    return project;
  }
}
