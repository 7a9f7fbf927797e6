import { z } from 'zod';
import { ApiError, notAoApi } from './api-client.js';

/** One Server-Sent Event of /api/v1/events/stream. */
export interface StreamedEvent {
  id: string;
  data: Record<string, unknown>;
}

export interface FollowOptions {
  /**
   * Give up with API_UNREACHABLE after this long without a successful connection (counted from
   * the first failed attempt since the last connection); 0 retries forever. Default 5 minutes.
   */
  retryForMs?: number;
  /** the first pause between attempts, doubled after every failure up to `maxDelayMs` (defaults 500 ms, 30 s) */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** where changes of the connection's state are reported (default: a line on stderr) */
  notice?: (line: string) => void;
}

export const DEFAULT_RETRY_FOR_MS = 5 * 60_000;

/** a connection that lasted this long (or delivered an event) was a good one: the backoff starts over */
const STABLE_MS = 10_000;

/** An error that ends following at once (never retried). */
class Fatal extends Error {
  constructor(readonly error: unknown) {
    super('fatal');
  }
}

interface Frame {
  id: string | undefined;
  event: string | undefined;
  data: string | undefined;
}

/** The text/event-stream wire format: frames end at a blank line; `field: value` lines; `:` comments. */
class SseParser {
  private buffer = '';

  push(chunk: string): Frame[] {
    this.buffer += chunk;
    // a lone \r at the end may be the first half of \r\n: keep it for the next chunk
    const complete = this.buffer.endsWith('\r') ? this.buffer.length - 1 : this.buffer.length;
    const text = this.buffer.slice(0, complete).replace(/\r\n?/g, '\n');
    const end = text.lastIndexOf('\n\n');
    if (end < 0) return [];
    this.buffer = text.slice(end + 2) + this.buffer.slice(complete);
    return text
      .slice(0, end)
      .split('\n\n')
      .map((block) => {
        const frame: Frame = { id: undefined, event: undefined, data: undefined };
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'id') frame.id = value;
          else if (field === 'event') frame.event = value;
          else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
        }
        return frame;
      });
  }
}

const Problem = z.object({ code: z.string(), message: z.string(), requestId: z.string().optional(), details: z.record(z.string(), z.unknown()).optional() });
const ResetData = z.object({ oldest: z.unknown().optional(), details: z.object({ oldest: z.unknown().optional() }).passthrough().optional() }).passthrough();

/** SPEC §4: the cursor fell below retention (410, or `event: reset` on the stream). */
function cursorExpired(cursor: string | undefined, oldest: unknown, details: Record<string, unknown> | null): ApiError {
  const known = typeof oldest === 'string' || typeof oldest === 'number' ? String(oldest) : undefined;
  return new ApiError(
    'CURSOR_EXPIRED',
    `the event cursor ${cursor ?? '(start)'} is older than the oldest event still kept${known ? ` (${known})` : ''}: the events in between were deleted by retention (AO_RETENTION_DAYS). Follow again without --after to start at the oldest kept event${known ? ` ${known}` : ''}`,
    410,
    { ...(details ?? {}), ...(known ? { oldest: known } : {}), ...(cursor ? { cursor } : {}) },
  );
}

async function problemOf(res: Response): Promise<z.infer<typeof Problem> | null> {
  try {
    const parsed = Problem.safeParse(JSON.parse(await res.text()));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : null;
  if (!cause) return err.message;
  const code = 'code' in cause && typeof cause.code === 'string' && !cause.message.includes(cause.code) ? cause.code : '';
  return [`${err.message}:`, code, cause.message].filter(Boolean).join(' ');
}

/**
 * Follows the event stream from `after` until `signal` aborts (then it resolves), handing each
 * event to `onEvent` in order, exactly once. When the connection drops or cannot be made it
 * reconnects from the last id seen, with exponential backoff and jitter, reporting only changes
 * of state; after `retryForMs` without a successful connection it gives up (API_UNREACHABLE).
 * An HTTP 4xx answer ends it at once with the problem's code; a cursor below retention (410 or
 * `event: reset`) with CURSOR_EXPIRED.
 */
export async function followEvents(
  baseUrl: string,
  token: string | undefined,
  after: string | undefined,
  onEvent: (event: StreamedEvent) => void,
  signal: AbortSignal,
  options: FollowOptions = {},
): Promise<void> {
  const retryForMs = options.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  const initialDelay = options.initialDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const notice = options.notice ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const url = `${baseUrl}/api/v1/events/stream`;

  let last = after;
  let delay = initialDelay;
  let downSince: number | null = null; // the first failure since the last connection
  let reported: string | null = null; // the failure last reported (null: none, or connected since)
  while (!signal.aborted) {
    let connectedAt: number | null = null;
    let received = false;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (last) headers['last-event-id'] = last;
      const res = await fetch(url, { headers, signal });
      if (res.ok && !/^text\/event-stream\b/.test(res.headers.get('content-type') ?? '')) {
        await res.body?.cancel();
        throw new Fatal(notAoApi(baseUrl, `it answered the event stream with HTTP ${res.status} and ${res.headers.get('content-type') ?? 'no content type'}`, res.status));
      }
      if (!res.ok || !res.body) {
        const problem = await problemOf(res);
        const retryable = res.ok || res.status >= 500 || res.status === 408 || res.status === 429;
        if (!retryable) {
          if (res.status === 410 || problem?.code === 'CURSOR_EXPIRED') throw new Fatal(cursorExpired(last, problem?.details?.oldest, problem?.details ?? null));
          if (!problem && res.status === 404) throw new Fatal(notAoApi(baseUrl, 'it answered the event stream with HTTP 404 and no ao error document', res.status));
          const message = problem ? `${problem.message}${problem.requestId ? ` [request ${problem.requestId}]` : ''}` : `the event stream answered HTTP ${res.status}`;
          throw new Fatal(new ApiError(problem?.code ?? 'API_ERROR', message, res.status, problem?.details ?? null));
        }
        throw new Error(`the event stream answered HTTP ${res.status}${problem ? ` (${problem.code}: ${problem.message})` : ''}`);
      }
      connectedAt = Date.now();
      downSince = null;
      if (reported !== null) notice(`ao: event stream connected again${last ? ` (resuming after ${last})` : ''}`);
      reported = null;

      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const frame of parser.push(value)) {
            if (frame.event === 'reset') {
              let data: z.infer<typeof ResetData> = {};
              try {
                data = ResetData.parse(JSON.parse(frame.data ?? '{}'));
              } catch {
                // a reset without readable data still means the cursor expired
              }
              throw new Fatal(cursorExpired(last, data.oldest ?? data.details?.oldest, data.details ?? null));
            }
            if (frame.id === undefined || frame.data === undefined) continue;
            let data: Record<string, unknown>;
            try {
              data = z.record(z.string(), z.unknown()).parse(JSON.parse(frame.data));
            } catch {
              throw new Fatal(new ApiError('API_ERROR', `the event stream sent an unreadable event (id ${frame.id})`, res.status));
            }
            last = frame.id;
            received = true;
            try {
              onEvent({ id: frame.id, data });
            } catch (err) {
              throw new Fatal(err);
            }
          }
        }
      } finally {
        reader.cancel().catch(() => undefined); // a stream we stop reading is closed, not left open
      }
      throw new Error('the API closed the event stream');
    } catch (err) {
      if (err instanceof Fatal) throw err.error;
      if (signal.aborted) return;
      const now = Date.now();
      if (connectedAt !== null && (received || now - connectedAt >= STABLE_MS)) delay = initialDelay;
      downSince ??= now;
      const giveUpAt = retryForMs > 0 ? downSince + retryForMs : Number.POSITIVE_INFINITY;
      const reason = reasonOf(err);
      if (now >= giveUpAt) {
        throw new ApiError(
          'API_UNREACHABLE',
          `cannot reach the ao event stream at ${url} (${reason}); gave up after ${seconds(now - downSince)} without a connection`,
          null,
          { url, retryForSeconds: retryForMs / 1000, ...(last ? { cursor: last } : {}) },
        );
      }
      const wait = Math.min(Math.round(delay * (0.75 + Math.random() * 0.5)), giveUpAt - now);
      if (reason !== reported) {
        const until = Number.isFinite(giveUpAt) ? `, giving up at ${new Date(giveUpAt).toISOString().replace(/\.\d+Z$/, 'Z')}` : ', until it answers';
        notice(`ao: event stream unavailable (${reason}); retrying in ${seconds(wait)} and then less often${until}`);
        reported = reason;
      }
      await pause(wait, signal);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
