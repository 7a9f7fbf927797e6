import { z } from 'zod';
import { ERROR_CODES, ERROR_STATUS, type ErrorCode, type ErrorDetails } from '../core/errors.js';

/** RFC 9457 problem details with ao's stable code (SPEC §9): every non-2xx answer has this shape. */
export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(ERROR_CODES),
    message: z.string(),
    requestId: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

function title(code: ErrorCode): string {
  const words = code.toLowerCase().split('_').join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function problem(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: ErrorDetails | null,
  status: number = ERROR_STATUS[code],
): Problem {
  return {
    type: `urn:ao:error:${code}`,
    title: title(code),
    status,
    code,
    message,
    requestId,
    ...(details ? { details } : {}),
  };
}

/** The problem responses a route can give, for its OpenAPI entry. */
export function problemResponses(...statuses: number[]): Record<number, typeof Problem> {
  return Object.fromEntries([...new Set([400, 401, 500, ...statuses])].map((s) => [s, Problem]));
}
