import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/domain.js';
import { followEvents, type StreamedEvent } from '../../cli/follow-events.js';
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

/** Follows the stream with the CLI's client until `until` accepts what arrived (deadline: 10 s). */
async function follow(after: string | undefined, until: (events: StreamedEvent[]) => boolean): Promise<StreamedEvent[]> {
  const events: StreamedEvent[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 10_000);
  await followEvents(stack.api, undefined, after, (event) => {
    events.push(event);
    if (until(events)) stop.abort();
  }, stop.signal);
  clearTimeout(timer);
  return events;
}

describe('GET /api/v1/events/stream', () => {
  it('answers with text/event-stream', async () => {
    const stop = new AbortController();
    const res = await fetch(`${stack.api}/api/v1/events/stream`, { signal: stop.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    stop.abort();
  });

  it('streams new events as they commit and resumes after Last-Event-ID without repeats', async () => {
    const seen = follow(undefined, (events) => events.some((e) => e.data.type === 'session_created' && e.data.key === 'sse-1'));
    const created = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'sse' });
    expect(created.status).toBe(201);
    const first = await seen;
    const last = first.at(-1)!;
    expect(last.data.id).toBe(last.id);

    await stack.http('POST', '/api/v1/sessions/sse-1/kill');
    const resumed = await follow(last.id, (events) => events.some((e) => e.data.type === 'session_updated'));
    expect(resumed.map((e) => e.id)).not.toContain(last.id);
    expect(resumed.find((e) => e.data.type === 'session_updated')?.data.key).toBe('sse-1');
  });

  it('refuses a bad cursor with 400 VALIDATION_FAILED before streaming', async () => {
    expect(await stack.http('GET', '/api/v1/events/stream?after=nope')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });
});
