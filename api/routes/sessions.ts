import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Session, SessionKind, SessionState } from '../../core/domain.js';
import { isValidBranchName } from '../../core/branch-name.js';
import { AoError } from '../../core/errors.js';
import { getProjectPlace, requireProject } from '../../core/store/projects.js';
import {
  deleteUnmadeSession,
  finishSessionCreation,
  insertSession,
  listSessions,
  requireSession,
  setSessionState,
} from '../../core/store/sessions.js';
import type { ApiContext } from '../context.js';
import { IdParams, NextCursor, PageQuery, ResourceId } from '../params.js';
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
        response: { 201: Session, ...problemResponses(404, 409, 503) },
      },
    },
    async (request, reply) => {
      const project = await requireProject(ctx.db, request.body.projectId);
      const provisional = request.body.provisional === true;
      const branch = request.body.branch;
      if (branch !== undefined && !isValidBranchName(branch)) {
        throw new AoError('BRANCH_INVALID', `${JSON.stringify(branch)} is not a valid branch name`, { branch });
      }
      // the worktree goes on the disk that holds the project's checkout
      const host = (await getProjectPlace(ctx.db, project.id))?.host || ctx.hostId;
      // born provisional: a creation that dies half-way leaves an expiring session that the host's
      // janitor removes whole, with whatever of its worktree was made
      const session = await insertSession(ctx.db, {
        projectId: project.id,
        kind: request.body.kind ?? 'worker',
        branch: request.body.branch ?? null,
        host,
        leaseSeconds: ctx.provisionalLeaseSeconds,
      });
      try {
        await ctx.hostWork.run(host, { op: 'create-worktree', sessionId: session.id });
      } catch (err) {
        // an answered failure was undone on the host (worktree, branch, row); work no worker took
        // was withdrawn, so the row names nothing on disk and goes now; anything else is the
        // janitor's once the lease runs out
        if (err instanceof AoError && err.code === 'HOST_UNAVAILABLE' && err.details?.withdrawn === true) {
          await deleteUnmadeSession(ctx.db, session.id);
        }
        throw err;
      }
      return reply.status(201).send(await finishSessionCreation(ctx.db, session.id, provisional));
    },
  );

  app.get(
    '/api/v1/sessions',
    {
      schema: {
        operationId: 'listSessions',
        tags: ['sessions'],
        summary: 'List sessions in creation order, a page at a time',
        querystring: PageQuery.extend({
          projectId: ResourceId.optional(),
          state: SessionState.optional(),
        }),
        response: { 200: z.object({ sessions: z.array(Session), nextCursor: NextCursor }), ...problemResponses() },
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
        response: { 204: z.null().describe('deleted'), ...problemResponses(404, 409, 503) },
      },
    },
    async (request, reply) => {
      const session = await requireSession(ctx.db, request.params.id);
      // worktree, root branch and row, by a worker of the session's host
      await ctx.hostWork.run(session.host || ctx.hostId, { op: 'remove-session', sessionId: session.id, force: request.query.force === 'true' });
      return reply.status(204).send(null);
    },
  );
};
