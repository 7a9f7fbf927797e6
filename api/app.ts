import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { bearerAuth } from './auth.js';
import type { ApiContext } from './context.js';
import { clientErrorHandler, frameworkError, registerErrorHandling } from './errors.js';
import { metricsPlugin } from './metrics.js';
import { openapiOptions } from './openapi.js';
import { registerQueueDashboard } from './queue-dashboard.js';
import { checkPathParams } from './params.js';
import { claimRoutes } from './routes/claims.js';
import { reclaimRoutes } from './routes/reclaims.js';
import { statusRoutes } from './routes/status.js';
import { eventRoutes, eventStreamRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { projectRoutes } from './routes/projects.js';
import { sessionRoutes } from './routes/sessions.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Routes that stay open without a token: a load balancer's probes. */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz']);

/** One log line per request, when it is answered, instead of fastify's two; fastify's other log lines as they are. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    // probes come every few seconds from a load balancer or a container's health check: a line each
    // would bury the log; they are still logged when they fail and at debug
    else if (PUBLIC_ROUTES.has(request.url) && reply.statusCode < 400) reply.log.debug(line, 'request');
    else reply.log.info(line, 'request');
  }
}

export interface BuildOptions {
  /** a pino logger for request logs; none: no request logs */
  logger?: FastifyBaseLogger;
}

/**
 * The HTTP API (SPEC §9): zod schemas drive validation, serialisation and the OpenAPI document
 * at /docs/json, so the three cannot disagree.
 */
export async function buildApi(ctx: ApiContext, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    logController: new OneLinePerRequest(),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => `req_${randomUUID()}`,
    requestIdHeader: false,
    return503OnClosing: true,
    // bad URLs and unparseable requests get a problem document too, not fastify's own JSON
    frameworkErrors: frameworkError,
    clientErrorHandler,
    // over-long ids reach the route's schema (VALIDATION_FAILED naming the parameter); only
    // absurd ones stop at the router
    routerOptions: { maxParamLength: 1000 },
  });
  // every body is JSON (SPEC §9): anything else is 415 UNSUPPORTED_MEDIA_TYPE, not a string
  // that then fails the route's schema
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const routePatterns: RegExp[] = [];
  app.addHook('onRoute', (route) => {
    routePatterns.push(new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}/?$`));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  registerErrorHandling(app, () => routePatterns);
  app.addHook('preValidation', async (request) => checkPathParams(request.params));

  await app.register(swagger, openapiOptions(PUBLIC_ROUTES));
  await app.register(swaggerUi, { routePrefix: '/docs' });

  if (ctx.apiToken) app.addHook('onRequest', bearerAuth(ctx.apiToken, PUBLIC_ROUTES));
  await app.register(metricsPlugin(ctx)); // before the routes: its hooks see them all

  await app.register(healthRoutes(ctx));
  await app.register(projectRoutes(ctx));
  await app.register(sessionRoutes(ctx));
  await app.register(claimRoutes(ctx));
  await app.register(reclaimRoutes(ctx));
  await app.register(statusRoutes(ctx));
  await app.register(jobRoutes(ctx));
  await app.register(eventRoutes(ctx));
  await app.register(eventStreamRoutes(ctx));
  if (ctx.queues) await registerQueueDashboard(app, { queues: ctx.queues, readOnly: ctx.apiToken === null });
  return app;
}
