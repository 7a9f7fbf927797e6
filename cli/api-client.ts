import { z } from 'zod';

/** An error answer of the API, or no answer at all (code API_UNREACHABLE). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | null,
    readonly details: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

const Problem = z.object({
  code: z.string(),
  message: z.string(),
  requestId: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** The CLI talks only to the HTTP API (never to Postgres or Redis). */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async request<T>(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; schema?: z.ZodType<T> } = {}): Promise<{ status: number; headers: Headers; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
    } catch (err) {
      const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new ApiError('API_UNREACHABLE', `cannot reach the ao API at ${this.baseUrl} (${why}); start it with \`npm start\` or set AO_API_URL`, null);
    }
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const problem = Problem.safeParse(parsed);
      if (problem.success) {
        const { code, message, requestId, details } = problem.data;
        throw new ApiError(code, requestId ? `${message} [request ${requestId}]` : message, res.status, details ?? null);
      }
      throw new ApiError('API_ERROR', `the API answered HTTP ${res.status}`, res.status);
    }
    return { status: res.status, headers: res.headers, body: (options.schema ? options.schema.parse(parsed) : parsed) as T };
  }
}
