import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AoError, type ErrorCode } from '../core/errors.js';
import { PROBLEM_CONTENT_TYPE, problem } from './problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the code a request-validation failure of this route answers with (default VALIDATION_FAILED) */
    validationCode?: (fields: string[]) => ErrorCode;
  }
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_JSON',
};

/**
 * One error shape everywhere (SPEC §9): AoErrors keep their code; schema failures name the
 * fields; fastify's own errors are mapped; anything else is INTERNAL_ERROR with the details in
 * the log only — never a stack trace on the wire.
 */
export function registerErrorHandling(app: FastifyInstance, routePatterns: () => RegExp[]): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AoError) return send(reply, request, err.code, err.message, err.details);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const fields = err.validation.map((v) => v.instancePath.replace(/^\//, '').replaceAll('/', '.'));
      const code = request.routeOptions.config.validationCode?.(fields) ?? 'VALIDATION_FAILED';
      const where = err.validationContext ?? 'request';
      const message = `invalid ${where}: ${err.validation.map((v) => `${v.instancePath.slice(1) || where} ${v.message ?? 'is invalid'}`).join('; ')}`;
      return send(reply, request, code, message, {
        issues: err.validation.map((v) => ({ path: v.instancePath.slice(1), message: v.message })),
      });
    }
    // (the library's own isResponseSerializationError only checks for a `method` property)
    if (err.code === 'FST_ERR_RESPONSE_SERIALIZATION') {
      request.log.error({ err }, 'response did not match its schema');
      return send(reply, request, 'INTERNAL_ERROR', 'internal error');
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) return send(reply, request, mapped, err.message);
    if (err instanceof SyntaxError && err.statusCode === 400) return send(reply, request, 'INVALID_JSON', `invalid JSON body: ${err.message}`);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return send(reply, request, 'VALIDATION_FAILED', err.message, null, err.statusCode);
    }
    request.log.error({ err }, 'unhandled error');
    return send(reply, request, 'INTERNAL_ERROR', 'internal error');
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (routePatterns().some((pattern) => pattern.test(path))) {
      return send(reply, request, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}`);
    }
    return send(reply, request, 'ROUTE_NOT_FOUND', `no route ${request.method} ${path}`);
  });
}

export function send(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown> | null,
  status?: number,
): FastifyReply {
  const body = problem(code, message, request.id, details, status);
  return reply.status(body.status).type(PROBLEM_CONTENT_TYPE).serializer(JSON.stringify).send(body);
}
