import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/** GET /metrics (SPEC §7, issue 15): scraped over HTTP from a stack that has run a claim. */

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'metrics' })).status).toBe(201);
});
afterAll(async () => {
  await stack?.close();
  await checkout?.remove();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

/**
 * A strict reader of the text exposition format (0.0.4): every line is a HELP or TYPE comment or
 * a sample `name{label="value",...} number`; each sample's family has a TYPE; nothing else passes.
 */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleLine = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
  const labelPair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const comment = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped'], line).toContain(comment[3]);
        types.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const match = sampleLine.exec(line);
    expect(match, `not a sample line: ${line}`).not.toBeNull();
    const [, name, rawLabels = '', rawValue] = match!;
    const labels: Record<string, string> = {};
    let rest = rawLabels;
    while (rest !== '') {
      const pair = labelPair.exec(rest);
      expect(pair, `bad labels in: ${line}`).not.toBeNull();
      labels[pair![1]!] = pair![2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(pair![0].length);
    }
    // as Prometheus reads it (Go's ParseFloat): NaN and Inf in any case
    const word = rawValue!.toLowerCase();
    const value = word === 'nan' ? NaN : /^[+-]?inf$/.test(word) ? (word.startsWith('-') ? -Infinity : Infinity) : Number(rawValue);
    expect(word === 'nan' || !Number.isNaN(value), `bad value in: ${line}`).toBe(true);
    const family = [...types.keys()].find((t) => name === t || [`${t}_bucket`, `${t}_sum`, `${t}_count`].includes(name!));
    expect(family, `no TYPE for ${name}`).toBeDefined();
    samples.push({ name: name!, labels, value });
  }
  return { types, samples };
}

async function scrape(api = stack.api, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await fetch(`${api}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await res.text());
}

function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return exposition.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /metrics', () => {
  it('after a claim: HTTP requests by route and status, jobs by kind and outcome, queue depth, GitHub budget, CDC lag', async () => {
    const session = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'metrics' })).body;
    stack.github.addPullRequest('Acme', 'Widgets', { number: 77, title: 'PR 77' });
    const accepted = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${session.id}/pr/claim`, { pr: '77' });
    expect(accepted.status).toBe(202);
    expect((await stack.waitForJob(accepted.body.jobId)).state).toBe('succeeded');

    const m = await scrape();
    expect(m.types.get('ao_http_requests_total')).toBe('counter');
    expect(value(m, 'ao_http_requests_total', { method: 'POST', route: '/api/v1/sessions/:id/pr/claim', status: '202' })).toBe(1);
    // the route's pattern, never the URL
    expect(m.samples.some((s) => s.labels.route?.includes(session.id))).toBe(false);
    expect(m.types.get('ao_http_request_duration_seconds')).toBe('histogram');
    expect(value(m, 'ao_http_request_duration_seconds_count', { route: '/api/v1/sessions/:id/pr/claim', status: '202' })).toBe(1);
    // /metrics does not count itself
    expect(m.samples.some((s) => s.labels.route === '/metrics')).toBe(false);

    expect(value(m, 'ao_jobs_finished', { kind: 'claim', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'ao_jobs_unfinished', { kind: 'claim', state: 'queued' })).toBe(0);
    expect(value(m, 'ao_job_duration_seconds', { kind: 'claim', outcome: 'succeeded', quantile: '0.5' })).toBeGreaterThan(0);

    expect(value(m, 'ao_queue_jobs', { queue: 'claims-test', state: 'waiting' })).toBe(0);
    expect(value(m, 'ao_queue_oldest_waiting_age_seconds', { queue: 'claims-test' })).toBe(0);
    expect(value(m, 'ao_queue_jobs', { queue: 'reclaims', state: 'active' })).toBe(0);

    expect(value(m, 'ao_github_rate_limit_remaining')).toBeGreaterThan(0);
    expect(value(m, 'ao_github_rate_limit')).toBeGreaterThanOrEqual(value(m, 'ao_github_rate_limit_remaining')!);
    expect(value(m, 'ao_github_rate_limit_reset_timestamp_seconds')! * 1000).toBeGreaterThan(Date.now());
    expect(value(m, 'ao_github_requests_total')).toBeGreaterThanOrEqual(1);
    expect(value(m, 'ao_github_points_spent_total')).toBeGreaterThanOrEqual(1);

    expect(value(m, 'ao_cdc_reader_lag_seconds')).toBe(0);
    for (const source of ['jobs', 'queues', 'github', 'cdc']) expect(value(m, 'ao_metrics_source_up', { source }), source).toBe(1);
    expect(value(m, 'process_cpu_user_seconds_total')).toBeDefined();
  });

  it('counts waiting jobs and the age of the oldest in a queue with no worker', async () => {
    await stack.stopWorker();
    await stack.startHostWorker(); // the host's git work still done, its claims left waiting
    try {
      for (const number of [78, 79]) {
        const session = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'metrics' })).body;
        stack.github.addPullRequest('Acme', 'Widgets', { number });
        expect((await stack.http('POST', `/api/v1/sessions/${session.id}/pr/claim`, { pr: String(number) })).status).toBe(202);
        await new Promise((r) => setTimeout(r, 500));
      }
      const m = await scrape();
      expect(value(m, 'ao_queue_jobs', { queue: 'claims-test', state: 'waiting' })).toBe(2);
      // the first claim's age, not the second's
      expect(value(m, 'ao_queue_oldest_waiting_age_seconds', { queue: 'claims-test' })).toBeGreaterThanOrEqual(0.9);
      expect(value(m, 'ao_jobs_unfinished', { kind: 'claim', state: 'queued' })).toBe(2);
    } finally {
      await stack.stopHostWorker();
      await stack.startWorker();
    }
  });

  it('reports the CDC lag while an older transaction holds changes back from readers', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    // a transaction with an xid that stays open: every change committed after it waits for it
    const tx = stack.db.sql.begin(async (sql) => {
      await sql`select pg_current_xact_id()`;
      started();
      await held;
    });
    try {
      await running;
      expect((await stack.http('POST', '/api/v1/sessions', { projectId: 'metrics' })).status).toBe(201);
      await new Promise((r) => setTimeout(r, 300));
      expect(value(await scrape(), 'ao_cdc_reader_lag_seconds')).toBeGreaterThanOrEqual(0.2);
    } finally {
      release();
      await tx;
    }
    expect(value(await scrape(), 'ao_cdc_reader_lag_seconds')).toBe(0);
  });

  it('counts open event-stream clients: 1 while a stream is open, 0 after it closes', async () => {
    expect(value(await scrape(), 'ao_event_stream_clients')).toBe(0);
    const stop = new AbortController();
    const res = await fetch(`${stack.api}/api/v1/events/stream`, { signal: stop.signal });
    expect(res.status).toBe(200);
    try {
      expect(value(await scrape(), 'ao_event_stream_clients')).toBe(1);
    } finally {
      stop.abort();
    }
    await until(async () => value(await scrape(), 'ao_event_stream_clients') === 0);
  });

  it('is in the OpenAPI document, like /healthz', async () => {
    const doc = await stack.http<{ paths: Record<string, Record<string, unknown>> }>('GET', '/docs/json');
    expect(Object.keys(doc.body.paths['/metrics'] ?? {})).toEqual(['get']);
  });
});

describe('GET /metrics with an API token', () => {
  let secured: Stack;
  beforeAll(async () => {
    secured = await startStack({ worker: false, apiToken: 'metrics-secret-token-5678' });
  });
  afterAll(async () => {
    await secured?.close();
  });

  it('is behind the token, like every route but health', async () => {
    const res = await fetch(`${secured.api}/metrics`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await fetch(`${secured.api}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const m = await scrape(secured.api, { authorization: 'Bearer metrics-secret-token-5678' });
    // /metrics never counts itself, answered or refused
    expect(value(m, 'ao_http_requests_total', { route: '/metrics' })).toBeUndefined();
    expect(value(m, 'ao_event_stream_clients')).toBe(0);
  });
});
