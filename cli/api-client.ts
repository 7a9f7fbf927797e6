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
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw notAoApi(this.baseUrl, `it answered ${method} ${path} with HTTP ${res.status} and ${describeBody(res)}, not JSON`, res.status);
    }
    if (!res.ok) {
      const problem = Problem.safeParse(parsed);
      if (problem.success) {
        const { code, message, requestId, details } = problem.data;
        throw new ApiError(code, requestId ? `${message} [request ${requestId}]` : message, res.status, details ?? null);
      }
      // every answer of ao's own, an unknown route's 404 included, is a problem document
      if (res.status === 404) throw notAoApi(this.baseUrl, `it answered ${method} ${path} with HTTP 404 and no ao error document`, res.status);
      throw new ApiError('API_ERROR', `the API answered HTTP ${res.status}`, res.status);
    }
    return { status: res.status, headers: res.headers, body: (options.schema ? options.schema.parse(parsed) : parsed) as T };
  }
}

/** Something answers at AO_API_URL, but not ao (another service on the port, a proxy's page, a wrong path). */
export function notAoApi(baseUrl: string, why: string, status: number | null): ApiError {
  return new ApiError('NOT_AO_API', `the server at ${baseUrl} is not an ao API (${why}); check AO_API_URL`, status, { url: baseUrl });
}

function describeBody(res: Response): string {
  const type = res.headers.get('content-type')?.split(';')[0]?.trim();
  return type ? `a ${type} body` : 'a body';
}
