import { join } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Session, SessionKind, SessionState } from '../../core/domain.js';
import { requireProject } from '../../core/store/projects.js';
import {
  deleteSession,
  finishSessionCreation,
  insertSession,
  listSessions,
  requireSession,
  setSessionState,
} from '../../core/store/sessions.js';
import { removeProvisionalSession } from '../../worker/remove-provisional-session.js';
import { isValidBranchName } from '../../worker/workspace/git.js';
import { AoError } from '../../core/errors.js';
import { createWorktree, removeWorktree } from '../../worker/workspace/worktree.js';
import type { ApiContext } from '../context.js';
import { IdParams, ResourceId } from '../params.js';
import { problemResponses } from '../problem.js';

const CreateSession = z.object({
  projectId: z.string().min(1),
  kind: SessionKind.optional().describe('default worker'),
  branch: z.string().min(1).optional().describe('default ao/<session-id>/root'),
  provisional: z
    .boolean()
    .optional()
    .describe('a session removed by the server unless a claim activates it before its lease expires'),
});

const SessionParams = IdParams;

export const sessionRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.post(
    '/api/v1/sessions',
    {
      schema: {
        operationId: 'createSession',
        tags: ['sessions'],
        summary: 'Create a session with its own git worktree',
        body: CreateSession,
        response: { 201: Session, ...problemResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const project = await requireProject(ctx.db, request.body.projectId);
      const provisional = request.body.provisional === true;
      const branch = request.body.branch;
      if (branch !== undefined && !(await isValidBranchName(project.path, branch))) {
        throw new AoError('BRANCH_INVALID', `${JSON.stringify(branch)} is not a valid branch name`, { branch });
      }
      // born provisional with its worktree named: a crash before the worktree exists, or between
      // the worktree and the activation, leaves an expiring session the janitor removes whole
      const session = await insertSession(ctx.db, {
        projectId: project.id,
        kind: request.body.kind ?? 'worker',
        branch: request.body.branch ?? null,
        host: ctx.hostId,
        worktreesRoot: join(ctx.dataDir, 'worktrees'),
        leaseSeconds: ctx.provisionalLeaseSeconds,
      });
      try {
        await createWorktree({
          checkout: project.path,
          path: session.workspacePath,
          branch: session.branch,
          baseBranch: project.defaultBranch,
        });
        return reply.status(201).send(await finishSessionCreation(ctx.db, session.id, provisional));
      } catch (err) {
        // no half-made session: whatever of the worktree was made goes, then the row
        await removeProvisionalSession(ctx.db, session.id).catch((cleanup: unknown) =>
          request.log.warn({ err: cleanup, sessionId: session.id }, 'could not undo a failed session creation; the janitor will'),
        );
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/sessions',
    {
      schema: {
        operationId: 'listSessions',
        tags: ['sessions'],
        summary: 'List sessions in creation order, a page at a time',
        querystring: z.object({
          projectId: ResourceId.optional(),
          state: SessionState.optional(),
          cursor: z.string().optional().describe("the previous page's nextCursor; absent: the first page"),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({
            sessions: z.array(Session),
            nextCursor: z.string().nullable().describe('pass back as `cursor` for the next page; null: the last page'),
          }),
          ...problemResponses(),
        },
      },
    },
    async (request) => {
      const { projectId, state, cursor, limit } = request.query;
      return listSessions(ctx.db, { projectId, state }, { cursor, limit });
    },
  );

  app.get(
    '/api/v1/sessions/:id',
    {
      schema: {
        operationId: 'getSession',
        tags: ['sessions'],
        summary: 'Get a session',
        params: SessionParams,
        response: { 200: Session, ...problemResponses(404) },
      },
    },
    async (request) => requireSession(ctx.db, request.params.id),
  );

  app.post(
    '/api/v1/sessions/:id/kill',
    {
      schema: {
        operationId: 'killSession',
        tags: ['sessions'],
        summary: 'Terminate a session (its worktree stays until the session is deleted)',
        params: SessionParams,
        response: { 200: Session, ...problemResponses(404) },
      },
    },
    async (request) => setSessionState(ctx.db, request.params.id, 'terminated'),
  );

  app.delete(
    '/api/v1/sessions/:id',
    {
      schema: {
        operationId: 'deleteSession',
        tags: ['sessions'],
        summary: 'Delete a session, its worktree and its PR records',
        params: SessionParams,
        querystring: z.object({ force: z.enum(['true', 'false']).optional().describe('discard uncommitted changes') }),
        response: { 204: z.null().describe('deleted'), ...problemResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const session = await requireSession(ctx.db, request.params.id);
      if (session.workspacePath) {
        const project = await requireProject(ctx.db, session.projectId);
        await removeWorktree({
          checkout: project.path,
          path: session.workspacePath,
          force: request.query.force === 'true',
          // the branch ao made for it (a claim may have moved the worktree to a PR's branch since)
          deleteBranch: `ao/${session.id}/root`,
        });
      }
      await deleteSession(ctx.db, session.id);
      return reply.status(204).send(null);
    },
  );
};
