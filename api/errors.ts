import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import postgres from 'postgres';
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

/** Postgres: character_not_in_repertoire (a NUL in text), untranslatable_character. */
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

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
    // A NUL (or a byte sequence the database encoding lacks) in some text field no schema
    // screened: the client's input, not our failure.
    if (err instanceof postgres.PostgresError && UNSTORABLE_TEXT.has(err.code)) {
      return send(reply, request, 'VALIDATION_FAILED', 'a value contains a character that cannot be stored (such as NUL)');
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

/**
 * fastify's `frameworkErrors`: what its router refuses before any route runs — a URL that does
 * not decode (`%ff`, a lone surrogate), a path segment over the router's limit — answered as a
 * problem like everything else instead of fastify's own JSON.
 */
export function frameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const message = err.code === 'FST_ERR_BAD_URL' ? 'the URL does not decode (a bad %-escape?)' : 'a path segment is too long';
    send(reply, request, 'VALIDATION_FAILED', `invalid URL: ${message}`, { issues: [{ path: 'url', message }] });
    return;
  }
  request.log.error({ err }, 'router error');
  send(reply, request, 'INTERNAL_ERROR', 'internal error');
}

/**
 * fastify's `clientErrorHandler`: a request Node's HTTP parser cannot read (a control character
 * or space in the URL, a malformed header, headers too large, too slow to arrive) never reaches
 * fastify, so the answer is written on the socket here — still a problem document.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  // a reset connection: nobody to answer
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'the request did not arrive in time']
        : [400, 'the request is not valid HTTP (a control character or space in the URL, a malformed header?)'];
  if (socket.writable) {
    const body = JSON.stringify(problem('VALIDATION_FAILED', message, `req_${randomUUID()}`, null, status));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
