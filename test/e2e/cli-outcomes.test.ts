import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * What the real `ao` binary says about how a claim ended (claim-pr and spawn --claim-pr, every
 * terminal state the server can reach here), and how `ao events --follow` behaves when the API is
 * unreachable, refuses, or says the cursor expired.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'run.js');

let stack: Stack;
let widgets: { path: string; remove(): Promise<void> };
let held: { path: string; remove(): Promise<void> };
let home: string;
let number = 1;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'cli', 'commands'))) throw new Error('the CLI is not built: run `npm run build` (npm test does)');
  stack = await startStack();
  widgets = await makeCheckout();
  held = await makeCheckout();
  home = await mkdtemp(join(tmpdir(), 'ao-outcomes-'));
  await stack.http('POST', '/api/v1/projects', { path: widgets.path, id: 'widgets' });
  await stack.http('POST', '/api/v1/projects', { path: held.path, id: 'held' });
});
afterAll(async () => {
  await stack?.close();
  await widgets?.remove();
  await held?.remove();
  if (home) await rm(home, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: home, AO_API_URL: stack.api, AO_DATA_DIR: join(home, 'data'), ...extra });

function ao(args: string[], extra: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: env(extra), timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** `ao` as a running child: its output so far, and its end (code and all output). */
function launch(args: string[], extra: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { env: env(extra) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ended = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, ended };
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function provisionalSession(projectId: string): Promise<string> {
  const created = await stack.http<Session>('POST', '/api/v1/sessions', { projectId, provisional: true });
  expect(created.status).toBe(201);
  expect(created.body.state).toBe('provisional');
  return created.body.id;
}

interface ErrorDocument {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

describe('ao session claim-pr on a provisional session', () => {
  it('exits 1 when the claim fails and says the session was removed (human)', async () => {
    const s = await provisionalSession('widgets');
    const run = await ao(['session', 'claim-pr', s, '777777']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('PR_NOT_FOUND');
    expect(run.stderr).toContain(`session ${s} was removed`);
    expect(run.stderr).not.toContain('WAIT_TIMEOUT');
    expect(run.stderr).not.toContain('still compensated');
    expect((await stack.http('GET', `/api/v1/sessions/${s}`)).status).toBe(404);
  });

  it('exits 1 with the claim error code and sessionRemoved under --json', async () => {
    const s = await provisionalSession('widgets');
    const run = await ao(['session', 'claim-pr', s, '777777', '--json']);
    expect(run.code, run.stderr).toBe(1);
    const out = JSON.parse(run.stdout) as ErrorDocument;
    expect(out.error.code).toBe('PR_NOT_FOUND');
    expect(out.error.message).toContain(`session ${s} was removed`);
    expect(out.error.details).toMatchObject({ sessionId: s, sessionRemoved: true, jobId: expect.stringMatching(/^job_/) });
  });
});

describe('ao spawn --claim-pr when the session became a real one before its claim failed', () => {
  // spawn claims a merged PR; its claim transaction waits on the PR's lock (held here); meanwhile
  // the session becomes a real one (as a claim of it on another worker would make it: one worker
  // runs one claim of a session at a time, so here it is activated directly); then the first
  // claim fails PR_NOT_OPEN and its compensation finds a real session, which it must not remove —
  // nor may the CLI say it did
  it.each([false, true])('does not say it removed the session (--json: %s)', async (json) => {
    const merged = number++;
    stack.github.addPullRequest('Acme', 'Widgets', { number: merged, state: 'MERGED' });
    const url = `https://github.com/acme/widgets/pull/${merged}`;
    const lock = await stack.db.sql.reserve();
    await lock`select pg_advisory_lock(hashtextextended(${url}, 0))`;
    try {
      const spawned = launch(['spawn', '--project', 'held', '--claim-pr', String(merged), ...(json ? ['--json'] : [])]);
      const deadline = Date.now() + 20_000;
      while ((await stack.db.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%claim_pr%'`).length === 0) {
        if (Date.now() > deadline) throw new Error('the spawned claim never reached its transaction');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const listed = await stack.http<{ sessions: Session[] }>('GET', '/api/v1/sessions?projectId=held&state=provisional');
      expect(listed.body.sessions).toHaveLength(1);
      const id = (listed.body.sessions[0] as Session).id;
      await stack.db.sql`update ao.sessions set state = 'active', lease_expires_at = null where id = ${id}`;
      await lock`select pg_advisory_unlock(hashtextextended(${url}, 0))`;

      const run = await within(spawned.ended, 30_000, 'ao spawn');
      expect(run.code, run.stderr).toBe(1);
      const said = json ? (JSON.parse(run.stdout) as ErrorDocument).error.message : run.stderr;
      if (json) {
        const out = JSON.parse(run.stdout) as ErrorDocument;
        expect(out.error.code).toBe('PR_NOT_OPEN');
        expect(out.error.details).toMatchObject({ sessionId: id, sessionRemoved: false });
      } else {
        expect(run.stdout).toContain(`spawned session ${id}`);
        expect(run.stderr).toContain('PR_NOT_OPEN');
      }
      expect(said).not.toContain('was removed');
      expect(said).toContain(`session ${id} was not removed`);
      expect((await stack.http<Session>('GET', `/api/v1/sessions/${id}`)).body.state).toBe('active');
    } finally {
      lock.release();
    }
  });
});

/** A URL where nothing listens (a port that was free a moment ago). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

/** A stand-in for the API's event stream (port 0) answering every request with `handler`. */
async function standIn(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('ao events --follow', () => {
  it('gives up with API_UNREACHABLE after --retry-for seconds, in a few lines', async () => {
    const url = await deadUrl();
    const started = Date.now();
    const run = await within(ao(['events', '--follow', '--retry-for', '2'], { AO_API_URL: url }), 20_000, 'ao events --follow --retry-for 2');
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('API_UNREACHABLE');
    expect(run.stderr.trim().split('\n').length, run.stderr).toBeLessThanOrEqual(5);
    expect(run.stdout).toBe('');
    expect(elapsed).toBeGreaterThanOrEqual(2_000); // it did keep trying for the 2 s
  });

  it('gives up with an error document under --json', async () => {
    const url = await deadUrl();
    const run = await within(ao(['events', '--follow', '--retry-for', '1', '--json'], { AO_API_URL: url }), 20_000, 'ao events --follow --json');
    expect(run.code, run.stderr).toBe(1);
    expect((JSON.parse(run.stdout) as ErrorDocument).error.code).toBe('API_UNREACHABLE');
    expect(run.stderr.trim().split('\n').length, run.stderr).toBeLessThanOrEqual(3);
  });

  it('fails at once, with the API code, when the API refuses the stream (4xx)', async () => {
    // a malformed --after no longer gets this far (the CLI refuses it first, exit 2: cli-polish.test.ts)
    let requests = 0;
    const refusing = await standIn((_req, res) => {
      requests += 1;
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'UNAUTHORIZED', message: 'a valid bearer token is required', requestId: 'req-1' }));
    });
    try {
      const run = await within(ao(['events', '--follow', '--json'], { AO_API_URL: refusing.url }), 20_000, 'ao events --follow against a refusing API');
      expect(run.code, run.stderr).toBe(1);
      expect((JSON.parse(run.stdout) as ErrorDocument).error.code).toBe('UNAUTHORIZED');
      expect(run.stderr).not.toContain('retrying');
      expect(requests).toBe(1);
    } finally {
      await refusing.close();
    }
  });

  it('stops at once on Ctrl-C, also while an attempt hangs', async () => {
    // accepts the connection and never answers
    let arrived!: () => void;
    const request = new Promise<void>((resolve) => (arrived = resolve));
    const hang = await standIn(() => arrived());
    try {
      const follow = launch(['events', '--follow'], { AO_API_URL: hang.url });
      await within(request, 15_000, 'the stream request');
      follow.child.kill('SIGINT');
      const run = await within(follow.ended, 5_000, 'exit after SIGINT');
      expect(run.code, run.stderr).toBe(0);
    } finally {
      await hang.close();
    }
  });

  it('backs off between attempts, reports the failure once, and stops at once on Ctrl-C while it waits', async () => {
    // an API that answers 503 to everything: retried with pauses of about 0.5, 1, 2, then 4 s
    let requests = 0;
    let fourthArrived!: () => void;
    const fourth = new Promise<void>((resolve) => (fourthArrived = resolve));
    const down = await standIn((_req, res) => {
      requests++;
      res.writeHead(503, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Unavailable', status: 503, code: 'QUEUE_UNAVAILABLE', message: 'not now', requestId: `r${requests}` }));
      if (requests === 4) fourthArrived();
    });
    try {
      const follow = launch(['events', '--follow', '--retry-for', '0'], { AO_API_URL: down.url });
      const started = Date.now();
      await within(fourth, 15_000, 'the fourth attempt');
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000); // 0.5 + 1 + 2 s, less the jitter
      follow.child.kill('SIGINT'); // now in a pause of 3 s or more
      const signalled = Date.now();
      const run = await within(follow.ended, 5_000, 'exit after SIGINT');
      expect(Date.now() - signalled).toBeLessThan(2_000);
      expect(run.code, run.stderr).toBe(0);
      expect(requests).toBe(4);
      const lines = run.stderr.trim().split('\n');
      expect(lines, run.stderr).toHaveLength(1); // the state changed once: one line
      expect(lines[0]).toMatch(/HTTP 503.*retrying in [\d.]+ s and then less often, until it answers/);
    } finally {
      await down.close();
    }
  });

  // SPEC §4: a cursor below retention gets 410 CURSOR_EXPIRED with details.oldest, or on the
  // stream `event: reset` with the same data and the stream closes. The stand-in speaks exactly that.
  it.each([
    [
      '410 CURSOR_EXPIRED',
      (res: ServerResponse) => {
        res.writeHead(410, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ type: 'about:blank', title: 'Gone', status: 410, code: 'CURSOR_EXPIRED', message: 'cursor expired', requestId: 'r1', details: { oldest: '900-9000' } }));
      },
    ],
    [
      'event: reset',
      (res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`: ao event stream\n\nevent: reset\ndata: ${JSON.stringify({ oldest: '900-9000' })}\n\n`);
      },
    ],
  ])('exits 1 with CURSOR_EXPIRED naming the oldest cursor (%s), without retrying', async (_case, answer) => {
    let requests = 0;
    const gone = await standIn((_req, res) => {
      requests++;
      answer(res);
    });
    try {
      const human = await within(ao(['events', '--follow', '--after', '5-5'], { AO_API_URL: gone.url }), 20_000, 'ao events --follow (human)');
      expect(human.code, human.stderr).toBe(1);
      expect(human.stderr).toContain('CURSOR_EXPIRED');
      expect(human.stderr).toContain('900-9000');
      const json = await within(ao(['events', '--follow', '--after', '5-5', '--json'], { AO_API_URL: gone.url }), 20_000, 'ao events --follow --json');
      expect(json.code, json.stderr).toBe(1);
      const out = JSON.parse(json.stdout) as ErrorDocument;
      expect(out.error.code).toBe('CURSOR_EXPIRED');
      expect(out.error.details).toMatchObject({ oldest: '900-9000', cursor: '5-5' });
      expect(requests).toBe(2); // one request per run: never retried
    } finally {
      await gone.close();
    }
  });
});
