import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  checkout = await makeCheckout();
  await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'sse' });
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
});

interface SseEvent {
  id: string;
  event: string;
  data: { id: string; type: string; key: string };
}

/** Reads SSE frames from the stream until `until` accepts what was read (deadline: 10 s). */
async function readStream(headers: Record<string, string>, query: string, until: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  const res = await fetch(`${stack.api}/api/v1/events/stream${query}`, { headers, signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          frame
            .split('\n')
            .filter((line) => !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        if (fields.id && fields.event && fields.data) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) as SseEvent['data'] });
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}

describe('GET /api/v1/events/stream', () => {
  it('streams new events as they commit and resumes after Last-Event-ID without repeats', async () => {
    const seen = readStream({}, '', (events) => events.some((e) => e.event === 'session_created' && e.data.key === 'sse-1'));
    const created = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'sse' });
    expect(created.status).toBe(201);
    const first = await seen;
    const last = first.at(-1)!;
    expect(last.data.id).toBe(last.id);
    expect(last.event).toBe(last.data.type);

    await stack.http('POST', '/api/v1/sessions/sse-1/kill');
    const resumed = await readStream({ 'last-event-id': last.id }, '', (events) => events.some((e) => e.event === 'session_updated'));
    expect(resumed.map((e) => e.id)).not.toContain(last.id);
    expect(resumed.find((e) => e.event === 'session_updated')?.data.key).toBe('sse-1');
  });

  it('refuses a bad cursor with 400 INVALID_CURSOR before streaming', async () => {
    expect(await stack.http('GET', '/api/v1/events/stream?after=nope')).toMatchObject({ status: 400, body: { code: 'INVALID_CURSOR' } });
  });
});
