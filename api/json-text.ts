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

/**
 * A page of a list, `{<field>: [...], nextCursor}`, from items Postgres already rendered as JSON
 * text (see sendJsonText).
 */
export function sendJsonPageText(reply: FastifyReply, field: string, page: { items: readonly string[]; nextCursor: string | null }): FastifyReply {
  return sendJsonText(reply, `{${JSON.stringify(field)}:[${page.items.join(',')}],"nextCursor":${JSON.stringify(page.nextCursor)}}`);
}
