import { basename } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Project, ProjectId } from '../../core/domain.js';
import { AoError } from '../../core/errors.js';
import { normalizeRepoUrl, parseRepoUrl } from '../../core/pr-ref.js';
import { archiveProject, insertProject, listProjects, requireProject } from '../../core/store/projects.js';
import { isValidBranchName } from '../../core/branch-name.js';
import { CheckoutFacts } from '../../core/host-work.js';
import type { ApiContext } from '../context.js';
import { IdParams } from '../params.js';
import { problemResponses } from '../problem.js';

const CreateProject = z.object({
  path: z.string().min(1).describe("absolute path of the top level of a git checkout on the API's host (whose workers make its sessions' worktrees)"),
  id: ProjectId.optional().describe('default: a slug of the folder name'),
  repoUrl: z.string().optional().describe("GitHub URL of the repository; default: the checkout's origin"),
  defaultBranch: z.string().min(1).max(255).optional().describe("a valid branch name (`git check-ref-format --branch`); default: origin's HEAD branch"),
});

export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/\.{2,}/g, '.')
    .slice(0, 64)
    .replace(/[-.]+$/, '');
  return slug || 'project';
}

function repoUrlOf(given: string | undefined, origin: string | null): string {
  if (given !== undefined && given.trim() !== '') {
    const repo = parseRepoUrl(given);
    if (!repo) throw new AoError('VALIDATION_FAILED', `repoUrl ${JSON.stringify(given)} is not a GitHub repository URL`, { repoUrl: given });
    return normalizeRepoUrl(repo.owner, repo.repo);
  }
  const repo = origin ? parseRepoUrl(origin) : null;
  return repo ? normalizeRepoUrl(repo.owner, repo.repo) : '';
}

export const projectRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.post(
    '/api/v1/projects',
    {
      schema: {
        operationId: 'createProject',
        tags: ['projects'],
        summary: 'Register a repository checkout as a project',
        body: CreateProject,
        response: { 201: Project, ...problemResponses(409, 503) },
      },
    },
    async (request, reply) => {
      const { defaultBranch } = request.body;
      if (defaultBranch !== undefined && !isValidBranchName(defaultBranch)) {
        throw new AoError('BRANCH_INVALID', `defaultBranch ${JSON.stringify(defaultBranch)} is not a valid branch name`, {
          defaultBranch,
        });
      }
      // no file system has such a path, and no queue store takes a NUL in a job's data (jsonb refuses it)
      if ([...request.body.path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
        throw new AoError('PROJECT_PATH_INVALID', `${JSON.stringify(request.body.path)} contains control characters: give the checkout's absolute path`, {
          path: request.body.path,
        });
      }
      // the checkout is on this API's host: that host's worker looks at it (the API runs no git)
      const checkout = CheckoutFacts.parse(await ctx.hostWork.run(ctx.hostId, { op: 'inspect-checkout', path: request.body.path }));
      const project = await insertProject(ctx.db, {
        host: ctx.hostId,
        id: request.body.id ?? slugify(basename(checkout.root)),
        path: checkout.root,
        repoUrl: repoUrlOf(request.body.repoUrl, checkout.originUrl),
        defaultBranch: defaultBranch ?? checkout.defaultBranch,
      });
      return reply.status(201).send(project);
    },
  );

  app.get(
    '/api/v1/projects',
    {
      schema: {
        operationId: 'listProjects',
        tags: ['projects'],
        summary: 'List projects',
        response: { 200: z.object({ projects: z.array(Project) }), ...problemResponses() },
      },
    },
    async () => ({ projects: await listProjects(ctx.db) }),
  );

  app.get(
    '/api/v1/projects/:id',
    {
      schema: {
        operationId: 'getProject',
        tags: ['projects'],
        summary: 'Get a project',
        params: IdParams,
        response: { 200: Project, ...problemResponses(404) },
      },
    },
    async (request) => requireProject(ctx.db, request.params.id),
  );

  app.delete(
    '/api/v1/projects/:id',
    {
      schema: {
        operationId: 'archiveProject',
        tags: ['projects'],
        summary: 'Archive a project: it stays listed (archivedAt), and no new session can be made in it',
        params: IdParams,
        querystring: z.object({ force: z.enum(['true', 'false']).optional().describe('archive it even while live sessions exist') }),
        response: { 204: z.null().describe('archived'), ...problemResponses(404, 409) },
      },
    },
    async (request, reply) => {
      await archiveProject(ctx.db, request.params.id, request.query.force === 'true');
      return reply.status(204).send(null);
    },
  );
};
