import { z } from 'zod';
import { validationFailed } from '../core/errors.js';

/**
 * The longest id a route takes: project ids are at most 64 characters, session ids
 * `<project>-<n>`, job ids `job_<uuid>`.
 */
export const MAX_ID_LENGTH = 128;

/**
 * An id in a path or a query (project, session, job): not empty, not absurdly long, and free
 * of NUL and other control characters, which Postgres refuses to store (a NUL would otherwise
 * reach it and come back as a 500) and which have no place in a log line.
 */
export const ResourceId = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  // C0, DEL and C1 spelled out (not \p{Cc}) so the OpenAPI pattern reads the same in any regex dialect
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'must not contain control characters');

/** The query of a keyset-paged list (core/store/keyset-cursor.ts); a route extends it with its filters. */
export const PageQuery = z.object({
  cursor: z.string().optional().describe("the previous page's nextCursor; absent: the first page"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The `nextCursor` of a keyset-paged list's answer. */
export const NextCursor = z.string().nullable().describe('pass back as `cursor` for the next page; null: the last page');

/** Path parameters of `/…/{id}` routes. */
export const IdParams = z.object({ id: ResourceId });

/**
 * Every named path parameter of every route obeys ResourceId, whether or not its route declares
 * a schema for it; VALIDATION_FAILED names the parameter. (A `*` wildcard is a file path, not an id.)
 */
export function checkPathParams(params: unknown): void {
  if (typeof params !== 'object' || params === null) return;
  for (const [name, value] of Object.entries(params)) {
    if (name === '*' || typeof value !== 'string') continue;
    const checked = ResourceId.safeParse(value);
    if (!checked.success) throw validationFailed(name, checked.error.issues.map((issue) => issue.message).join('; '));
  }
}
