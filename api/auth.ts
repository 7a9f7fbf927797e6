import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { send } from './errors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `Authorization: Bearer <token>` on every route but the public ones. Both sides are hashed to
 * equal-length digests so the comparison is constant-time whatever the input's length.
 */
export function bearerAuth(token: string, publicRoutes: ReadonlySet<string>): onRequestHookHandler {
  const expected = digest(token);
  return (request, reply, done) => {
    const path = request.url.split('?')[0] ?? '';
    if (publicRoutes.has(path)) return done();
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (match && timingSafeEqual(digest(match[1]!.trim()), expected)) return done();
    void send(reply, request, 'UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer $AO_API_TOKEN)');
  };
}
