import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { AoError } from '../../core/errors.js';
import { formatCursor, parseCursor, readEvents, type ChangeEvent, type Cursor } from '../../core/store/read-events.js';
import type { ApiContext } from '../context.js';
import { trackEventStream } from '../metrics.js';
import { problem, problemResponses } from '../problem.js';

const Image = z.record(z.string(), z.unknown()).nullable();

export const Event = z
  .object({
    id: z.string().describe('the cursor: pass it back as `after`'),
    txId: z.string(),
    op: z.enum(['insert', 'update', 'delete']),
    type: z.string(),
    entity: z.enum(['session', 'pr', 'check', 'review_thread', 'job']),
    key: z.string(),
    projectId: z.string().nullable(),
    sessionId: z.string().nullable(),
    jobId: z.string().nullable().describe('the job that caused the change'),
    before: Image.describe('the changed columns as they were'),
    after: Image.describe('the whole row as it is now'),
    createdAt: z.string(),
  })
  .meta({ id: 'Event' });

export const eventRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  app.get(
    '/api/v1/events',
    {
      schema: {
        operationId: 'listEvents',
        tags: ['events'],
        summary: 'Change events after a cursor, gap-free and in commit-consistent order',
        querystring: z.object({
          after: z.string().optional().describe('an event id; absent or 0: from the beginning'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: z.object({ events: z.array(Event), nextCursor: z.string() }), ...problemResponses(410) },
      },
    },
    async (request) => readEvents(ctx.db, { after: parseCursor(request.query.after, 'after'), limit: request.query.limit }),
  );
};

/** How often an idle stream looks for new events: quickly after activity, slower when quiet. */
const IDLE_POLL_MS = { min: 100, max: 1000 };
const HEARTBEAT_MS = 15_000;
/**
 * Events read per page. A stream holds one page plus what its socket buffers, so this (with the
 * largest events) bounds the memory one client can cost.
 */
const STREAM_PAGE_SIZE = 100;
/** Reads that fail in a row before the stream ends (the client reconnects), and the backoff between them. */
const READ_RETRY = { attempts: 5, firstDelayMs: 100, maxDelayMs: 5000 };
/** How long a stream that ends because the server shuts down waits for a stalled client. */
const SHUTDOWN_GRACE_MS = 1000;
export const DEFAULT_SSE_SLOW_CLIENT_MS = 30_000;

const CLOSING = {
  slowClient: ': closing: the client read too slowly; reconnect with Last-Event-ID\n\n',
  readFailed: ': closing: events cannot be read right now; reconnect with Last-Event-ID\n\n',
  shutdown: ': closing: the server is shutting down; reconnect with Last-Event-ID\n\n',
};

/**
 * One Server-Sent-Events response that honours backpressure: after a write the socket could not
 * take, nothing more is written (and no page read) until it drains; a client that leaves it full
 * longer than `slowClientMs` is "slow".
 */
class EventStreamResponse {
  /** the client went away */
  private gone = false;
  /** the server is shutting down */
  private stopped = false;
  /** ends the current wait early */
  private interrupt: (() => void) | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly slowClientMs: number,
  ) {
    res.once('close', () => {
      this.gone = true;
      this.interrupt?.();
    });
    // a write racing a reset connection; 'close' follows and ends the stream
    res.on('error', () => {});
  }

  get open(): boolean {
    return !this.gone && !this.stopped;
  }

  /** Server shutdown: the stream ends at its next step. */
  stop(): void {
    this.stopped = true;
    this.interrupt?.();
  }

  /** 'ok': written (and drained if it had to be); 'slow': the buffer stayed full; 'ended': gone or stopped. */
  async write(chunk: string): Promise<'ok' | 'slow' | 'ended'> {
    if (!this.open) return 'ended';
    if (this.res.write(chunk)) return 'ok';
    const why = await this.wait(this.slowClientMs, true);
    return why === 'drain' ? 'ok' : why === 'timeout' ? 'slow' : 'ended';
  }

  async sleep(ms: number): Promise<void> {
    await this.wait(ms, false);
  }

  /** Bytes written that the socket has yet to take. */
  get buffered(): number {
    return this.res.writableLength;
  }

  /**
   * The last words: `comment`, then the connection goes. A client that does not read it within
   * `graceMs` loses it and is cut off, so a stalled client costs nothing more after this.
   */
  close(comment: string, graceMs: number): void {
    if (this.gone) return;
    const res = this.res;
    const cut = setTimeout(() => res.destroy(), graceMs);
    res.once('close', () => clearTimeout(cut));
    // the response is complete once the socket took it all: then the connection goes as well
    res.once('finish', () => res.destroy());
    res.end(comment);
  }

  private wait(ms: number, untilDrain: boolean): Promise<'drain' | 'timeout' | 'interrupted'> {
    if (!this.open) return Promise.resolve('interrupted');
    return new Promise((resolve) => {
      const settle = (why: 'drain' | 'timeout' | 'interrupted') => {
        clearTimeout(timer);
        this.res.off('drain', onDrain);
        this.interrupt = undefined;
        resolve(why);
      };
      const onDrain = () => settle('drain');
      const timer = setTimeout(() => settle('timeout'), ms);
      if (untilDrain) this.res.once('drain', onDrain);
      this.interrupt = () => settle('interrupted');
    });
  }
}

function frame(event: ChangeEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const eventStreamRoutes = (ctx: ApiContext): FastifyPluginAsyncZod => async (app) => {
  const slowClientMs = ctx.sseSlowClientMs ?? DEFAULT_SSE_SLOW_CLIENT_MS;
  // open streams end when the server shuts down, or close() would wait for the clients forever
  const streams = new Set<EventStreamResponse>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.stop();
  });

  app.get(
    '/api/v1/events/stream',
    {
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary:
          'Change events as Server-Sent Events (id: the cursor, event: the type, data: the Event); resumes after Last-Event-ID. ' +
          'A client that stops reading for too long is disconnected after a last comment line; it resumes with Last-Event-ID.',
        querystring: z.object({ after: z.string().optional().describe('used when no Last-Event-ID header is sent') }),
        headers: z.object({ 'last-event-id': z.string().optional() }),
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('text/event-stream'), ...problemResponses(410) },
      },
    },
    async (request, reply) => {
      // parse and read the first page before answering, so a bad cursor is a normal 400 and one
      // below retention a normal 410 CURSOR_EXPIRED
      const header = request.headers['last-event-id'];
      let cursor: Cursor = header === undefined ? parseCursor(request.query.after, 'after') : parseCursor(header, 'last-event-id');
      let pending: ChangeEvent[] | null = (await readEvents(ctx.db, { after: cursor, limit: STREAM_PAGE_SIZE })).events;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': request.id,
      });
      const stream = new EventStreamResponse(res, slowClientMs);
      streams.add(stream);
      const untrack = trackEventStream(ctx);
      try {
        const outcome = await pump(stream);
        if (outcome === 'slow') {
          request.log.warn(
            { lastEventId: formatCursor(cursor), bufferedBytes: stream.buffered, slowClientMs },
            'event stream client read too slowly; disconnecting it',
          );
          stream.close(CLOSING.slowClient, slowClientMs);
        } else if (outcome === 'readFailed') {
          stream.close(CLOSING.readFailed, slowClientMs);
        } else if (outcome instanceof AoError) {
          // SPEC §4: retention overtook this reader; `reset` carries what a 410 would, then the stream ends
          const body = problem(outcome.code, outcome.message, request.id, outcome.details);
          stream.close(`event: reset\ndata: ${JSON.stringify(body)}\n\n`, slowClientMs);
        } else {
          stream.close(CLOSING.shutdown, Math.min(SHUTDOWN_GRACE_MS, slowClientMs));
        }
      } finally {
        streams.delete(stream);
        untrack();
      }

      /**
       * Writes events as they commit until the client goes, stalls, reads keep failing, the
       * cursor falls below retention (the error), or the server stops.
       */
      async function pump(out: EventStreamResponse): Promise<'slow' | 'readFailed' | 'ended' | AoError> {
        let written = await out.write(': ao event stream\n\n');
        let idle = IDLE_POLL_MS.min;
        let lastWrite = Date.now();
        let failures = 0;
        while (written === 'ok') {
          let events: ChangeEvent[];
          if (pending) {
            events = pending;
            pending = null;
          } else {
            try {
              events = (await readEvents(ctx.db, { after: cursor, limit: STREAM_PAGE_SIZE })).events;
              failures = 0;
            } catch (err) {
              if (err instanceof AoError && err.code === 'CURSOR_EXPIRED') return err;
              failures += 1;
              if (failures >= READ_RETRY.attempts) {
                request.log.error({ err, failures }, 'event stream reads keep failing; ending the stream');
                return 'readFailed';
              }
              request.log.warn({ err, failures }, 'event stream read failed; retrying');
              await out.sleep(Math.min(READ_RETRY.firstDelayMs * 2 ** (failures - 1), READ_RETRY.maxDelayMs));
              if (!out.open) return 'ended';
              continue;
            }
          }
          for (const event of events) {
            written = await out.write(frame(event));
            if (written !== 'ok') break;
            cursor = parseCursor(event.id);
          }
          if (written !== 'ok') break;
          if (events.length > 0) {
            lastWrite = Date.now();
            idle = IDLE_POLL_MS.min;
            continue;
          }
          if (Date.now() - lastWrite > HEARTBEAT_MS) {
            written = await out.write(': heartbeat\n\n');
            lastWrite = Date.now();
            if (written !== 'ok') break;
          }
          await out.sleep(idle);
          if (!out.open) return 'ended';
          idle = Math.min(idle * 2, IDLE_POLL_MS.max);
        }
        return written === 'slow' ? 'slow' : 'ended';
      }
    },
  );
};
