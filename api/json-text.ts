import type { FastifyReply } from 'fastify';

/**
 * Answers with JSON Postgres already assembled as text (a job with its session's PRs, a
 * session's PRs). Fastify sends a string with a JSON content type as it is, skipping the route's
 * serializer: the text was built from the same documents the response schema describes, and
 * parsing and re-serialising it would cost more than everything else the read does.
 */
export function sendJsonText(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
