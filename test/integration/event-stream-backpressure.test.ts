import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../api/server.js';
import { createTestDatabase, testQueueSettings, type TestDatabase } from '../support/env.js';
import { TEST_HOST_ID } from '../support/fixtures.js';

/**
 * The event stream honours backpressure (SPEC §4): a client that stops reading costs the server a
 * bounded amount of memory, is disconnected after a last comment line once it has been stalled
 * for too long, and resumes where it was with Last-Event-ID. A stream whose reads keep failing
 * ends instead of retrying forever.
 */

const SLOW_CLIENT_MS = 1000;
const SESSIONS = 1000;
/** each session_created event carries the whole row: a 32 KB workspace path makes ~32 MB of events */
const PATH_BYTES = 32 * 1024;
const SLOW_CLIENT_COMMENT = ': closing: the client read too slowly; reconnect with Last-Event-ID\n\n';
const READ_FAILED_COMMENT = ': closing: events cannot be read right now; reconnect with Last-Event-ID\n\n';
const RESET = 'event: reset\ndata: ';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  [key: string]: unknown;
}

let db: TestDatabase;
let api: ApiServer;
let dataDir: string;
const logs: LogLine[] = [];
const logWaiters = new Set<() => void>();

/** Resolves with the first log line `match` accepts (deadline: timeoutMs). */
function waitForLog(match: (line: LogLine) => boolean, timeoutMs = 8000): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = logs.find(match);
      if (!found) return false;
      clearTimeout(timer);
      logWaiters.delete(onLine);
      resolve(found);
      return true;
    };
    const onLine = () => void check();
    const timer = setTimeout(() => {
      logWaiters.delete(onLine);
      reject(new Error(`no such log line within ${timeoutMs} ms; saw: ${logs.map((l) => l.msg).join(' | ')}`));
    }, timeoutMs);
    if (!check()) logWaiters.add(onLine);
  });
}

/** Complete SSE frames of `text`: the id of each event frame, in order. */
function eventIds(text: string): string[] {
  return text
    .split('\n\n')
    .slice(0, -1)
    .flatMap((frame) => frame.split('\n').filter((line) => line.startsWith('id: ')).map((line) => line.slice(4)));
}

async function allEventIds(): Promise<string[]> {
  const rows = await db.sql<Array<{ id: string }>>`select c.tx_id || '-' || c.id as id from ao.change_log c order by c.tx_id, c.id`;
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'ao-sse-'));
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      }
      for (const wake of logWaiters) wake();
      done();
    },
  });
  api = await startApiServer({
    db: db.sql,
    queue: testQueueSettings(db.url, { attempts: 1, delayMs: 50 }),
    hostId: TEST_HOST_ID,
    apiToken: null,
    host: '127.0.0.1',
    port: 0,
    sseSlowClientMs: SLOW_CLIENT_MS,
    logger: pino({ level: 'warn' }, sink),
  });
  await db.sql`insert into ao.projects (id, path) values ('bp', '/src/bp')`;
  // one statement: a thousand session_created events of ~32 KB each
  await db.sql`
    insert into ao.sessions (id, project_id, num, host, workspace_path)
    select 'bp-' || g, 'bp', g, 'test', repeat(md5(g::text), ${PATH_BYTES / 32})
    from generate_series(1, ${SESSIONS}) g`;
});
afterAll(async () => {
  await api?.close();
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('GET /api/v1/events/stream under backpressure', () => {
  it('disconnects a client that stopped reading, having written a bounded amount, and resumes it by Last-Event-ID', async () => {
    const all = await allEventIds();
    expect(all).toHaveLength(SESSIONS);
    const totalBytes = SESSIONS * PATH_BYTES;

    // a client that reads the headers and then nothing
    const request = get(`${api.url}/api/v1/events/stream`, { agent: false });
    const [res] = (await once(request, 'response')) as [IncomingMessage];
    res.pause();
    expect(res.statusCode).toBe(200);

    const warned = await waitForLog((line) => line.msg === 'event stream client read too slowly; disconnecting it');
    expect(warned.slowClientMs).toBe(SLOW_CLIENT_MS);

    // what the server wrote before it gave up arrives, then the closing comment, then the end
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<'end' | 'aborted'>((resolve) => {
      res.once('end', () => resolve('end'));
      res.once('aborted', () => resolve('aborted'));
      res.once('error', () => resolve('aborted'));
    });
    res.resume();
    expect(await ended).toBe('end');
    const text = Buffer.concat(chunks).toString('utf8');

    expect(text.endsWith(SLOW_CLIENT_COMMENT)).toBe(true);
    // socket buffers hold a few MB at most; without backpressure the server wrote all of it
    expect(Buffer.byteLength(text)).toBeLessThan(totalBytes / 3);
    const seen = eventIds(text);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(SESSIONS / 3);
    expect(seen).toEqual(all.slice(0, seen.length));

    // it resumes after the last event it got, and gets every other one exactly once
    const last = seen.at(-1) ?? '0';
    const stop = new AbortController();
    const resumed = await fetch(`${api.url}/api/v1/events/stream`, { headers: { 'last-event-id': last }, signal: stop.signal });
    expect(resumed.status).toBe(200);
    const reader = (resumed.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    const deadline = Date.now() + 8000;
    let buffer = '';
    let rest: string[] = [];
    while (rest.length < SESSIONS - seen.length) {
      if (Date.now() > deadline) throw new Error(`resumed stream gave ${rest.length} of ${SESSIONS - seen.length} events`);
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const end = buffer.lastIndexOf('\n\n');
      if (end >= 0) {
        rest = rest.concat(eventIds(buffer.slice(0, end + 2)));
        buffer = buffer.slice(end + 2);
      }
    }
    stop.abort();
    expect([...seen, ...rest]).toEqual(all);
  });

  it('refuses a cursor beyond bigint before streaming, as a problem', async () => {
    for (const [headers, path] of [
      [{}, '/api/v1/events/stream?after=9999999999999999999-1'],
      [{ 'last-event-id': '1-9223372036854775808' }, '/api/v1/events/stream'],
    ] as const) {
      const res = await fetch(`${api.url}${path}`, { headers });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { code: string; details: { issues: Array<{ path: string }> } };
      expect(body.code).toBe('VALIDATION_FAILED');
      expect(body.details.issues[0]?.path).toBe('last-event-id' in headers ? 'last-event-id' : 'after');
    }
  });

  it('ends a stream whose reads keep failing, after a few backed-off retries', async () => {
    const stop = new AbortController();
    const res = await fetch(`${api.url}/api/v1/events/stream?after=${(await allEventIds()).at(-1)}`, { signal: stop.signal });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    // every read fails from now on (this file's own database)
    await db.sql`alter table ao.change_log rename to change_log_away`;
    try {
      const text = await Promise.race([
        res.text(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 8000)),
      ]);
      expect(text.endsWith(READ_FAILED_COMMENT)).toBe(true);
      const mine = logs.filter((line) => line.reqId === requestId);
      const warnings = mine.filter((line) => line.msg === 'event stream read failed; retrying');
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.length).toBeLessThan(5);
      expect(mine.some((line) => line.msg === 'event stream reads keep failing; ending the stream')).toBe(true);
    } finally {
      stop.abort();
      await db.sql`alter table ao.change_log_away rename to change_log`;
    }
  });

  it('answers a cursor below retention with 410 before streaming, and sends `reset` when retention overtakes a reader', async () => {
    const all = await allEventIds();
    const last = all.at(-1) ?? '0';
    const [tx, id] = last.split('-').map(BigInt) as [bigint, bigint];
    try {
      // retention deleted events up to and including the last one (ao.apply_retention moves this floor)
      await db.sql`update ao.change_log_floor set tx_id = ${tx.toString()}::bigint, id = ${id.toString()}::bigint`;
      const expired = await fetch(`${api.url}/api/v1/events/stream`, { headers: { 'last-event-id': all.at(-2) ?? '1-1' } });
      expect(expired.status).toBe(410);
      expect(expired.headers.get('content-type')).toContain('application/problem+json');
      expect(await expired.json()).toMatchObject({ code: 'CURSOR_EXPIRED', details: { oldest: last } });

      // a reader at the last event, then retention moves past it
      const stop = new AbortController();
      const res = await fetch(`${api.url}/api/v1/events/stream`, { headers: { 'last-event-id': last }, signal: stop.signal });
      expect(res.status).toBe(200);
      const text = res.text();
      await db.sql`update ao.change_log_floor set tx_id = ${(tx + 1n).toString()}::bigint, id = 0`;
      const body = await Promise.race([
        text,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 8000)),
      ]);
      stop.abort();
      const reset = body.slice(body.indexOf(RESET) + RESET.length).trim();
      expect(body.indexOf(RESET)).toBeGreaterThan(0);
      expect(JSON.parse(reset)).toMatchObject({ status: 410, code: 'CURSOR_EXPIRED', details: { oldest: `${tx + 1n}-0` } });
    } finally {
      await db.sql`update ao.change_log_floor set tx_id = 0, id = 0`;
    }
  });
});
