import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';
import { queueEnv, testQueueBackend } from '../support/env.js';

/** The real `ao` binary as a child process against a running API + worker + fake GitHub. */

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'run.js');

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let home: string;
let number = 1;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'cli', 'commands'))) throw new Error('the CLI is not built: run `npm run build` (npm test does)');
  stack = await startStack();
  checkout = await makeCheckout();
  home = await mkdtemp(join(tmpdir(), 'ao-cli-'));
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
  await rm(home, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ao(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: home, AO_API_URL: stack.api, AO_DATA_DIR: join(home, 'data'), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function json<T = Record<string, unknown>>(run: Run): T {
  return JSON.parse(run.stdout) as T;
}

function addPr(): number {
  const n = number++;
  stack.github.addPullRequest('Acme', 'Widgets', { number: n, rollupState: 'SUCCESS', contexts: [{ kind: 'CheckRun', name: 'build' }] });
  return n;
}

async function newSession(projectId = 'widgets'): Promise<string> {
  return (await stack.http<Session>('POST', '/api/v1/sessions', { projectId })).body.id;
}

describe('ao project', () => {
  it('adds a checkout and lists it, in human form and as JSON', async () => {
    const added = await ao(['project', 'add', checkout.path, '--id', 'widgets']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('project widgets');
    expect(added.stdout).toContain('repo: https://github.com/Acme/Widgets');
    const listed = await ao(['project', 'ls', '--json']);
    expect(json<{ projects: Array<{ id: string }> }>(listed).projects.map((p) => p.id)).toContain('widgets');
  });
});

describe('ao session claim-pr', () => {
  it('claims and prints the session, the PR and the branch its worktree switched to (once)', async () => {
    const s = await newSession();
    const n = addPr();
    const run = await ao(['session', 'claim-pr', s, String(n)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([`session ${s} claimed PR #${n}`, `pr: https://github.com/Acme/Widgets/pull/${n}`, `switched to feature/${n}`]);
    const again = await ao(['session', 'claim-pr', s, String(n)]);
    expect(again.stdout.trim().split('\n')).toEqual([`session ${s} claimed PR #${n}`, `pr: https://github.com/Acme/Widgets/pull/${n}`]);
  });

  it('accepts the PR first, and the session from AO_SESSION_ID', async () => {
    const s = await newSession();
    const a = addPr();
    const b = addPr();
    expect((await ao(['session', 'claim-pr', `#${a}`, s])).stdout).toContain(`claimed PR #${a}`);
    expect((await ao(['session', 'claim-pr', String(b)], { AO_SESSION_ID: s })).stdout).toContain(`claimed PR #${b}`);
  });

  it('says whom it took the PR from, and refuses with --no-takeover naming the owner', async () => {
    const s1 = await newSession();
    const s2 = await newSession();
    const s3 = await newSession();
    const n = addPr();
    await ao(['session', 'claim-pr', s1, String(n)]);
    const moved = await ao(['session', 'claim-pr', s2, String(n)]);
    expect(moved.stdout).toContain(`taking over from ${s1}`);
    const refused = await ao(['session', 'claim-pr', s3, String(n), '--no-takeover', '--json']);
    expect(refused.code).toBe(1);
    expect(json(refused)).toMatchObject({ error: { code: 'PR_CLAIMED_BY_ACTIVE_SESSION', details: { ownerSessionId: s2 } } });
  });

  it('prints the job as JSON', async () => {
    const s = await newSession();
    const n = addPr();
    const run = await ao(['session', 'claim-pr', s, String(n), '--json']);
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ state: 'succeeded', result: { sessionId: s, prs: [{ number: n }] } });
  });

  it.each([
    [['session', 'claim-pr', '142'], 'session id is required'],
    [['session', 'claim-pr', 'widgets-1', 'not a ref'], 'invalid PR reference'],
    [['session', 'claim-pr', 'widgets-1', '1', '--bogus'], 'Nonexistent flag'],
  ])('exits 2 on usage errors: %j', async (args, message) => {
    const run = await ao(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('exits 1 with the code for an unknown PR', async () => {
    const s = await newSession();
    const run = await ao(['session', 'claim-pr', s, '99999']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('PR_NOT_FOUND');
  });

  it('times out with exit 3 and the job id while no worker runs; rerunning attaches to the same job; job wait returns it', async () => {
    const s = await newSession();
    const n = addPr();
    await stack.stopWorker();
    try {
      const first = await ao(['session', 'claim-pr', s, String(n), '--timeout', '1', '--json']);
      expect(first.code).toBe(3);
      const jobId = json<{ error: { code: string; details: { jobId: string } } }>(first).error.details.jobId;
      expect(json(first)).toMatchObject({ error: { code: 'WAIT_TIMEOUT' } });
      const again = await ao(['session', 'claim-pr', s, String(n), '--timeout', '1', '--json']);
      expect(json<{ error: { details: { jobId: string } } }>(again).error.details.jobId).toBe(jobId);

      await stack.startWorker();
      const waited = await ao(['job', 'wait', jobId, '--json']);
      expect(waited.code).toBe(0);
      expect(json(waited)).toMatchObject({ id: jobId, state: 'succeeded' });
      // the claim command attaches until it has seen its job finish; after that it claims anew
      const attached = await ao(['session', 'claim-pr', s, String(n), '--json']);
      expect(json(attached)).toMatchObject({ id: jobId, state: 'succeeded' });
      const fresh = await ao(['session', 'claim-pr', s, String(n), '--json']);
      expect(json<{ id: string }>(fresh).id).not.toBe(jobId);
    } finally {
      await stack.startWorker().catch(() => undefined);
    }
  });

  it('prints the job id and its status URL with --no-wait', async () => {
    const s = await newSession();
    const run = await ao(['session', 'claim-pr', s, String(addPr()), '--no-wait']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/claim queued: job job_\w+\nstatus: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/jobs\/job_\w+/);
  });

  it('uses `gh repo view` for a checkout without origin: at project add, and for a number at claim time', async () => {
    const bare = await makeCheckout('');
    const ghDir = await mkdtemp(join(tmpdir(), 'ao-gh-'));
    try {
      await writeFile(join(ghDir, 'gh'), `#!/bin/sh\n[ "$1 $2" = "repo view" ] && echo https://github.com/Acme/Widgets && exit 0\nexit 1\n`);
      await chmod(join(ghDir, 'gh'), 0o755);
      const withGh = { PATH: `${ghDir}:${process.env.PATH ?? ''}` };
      const noGh = { PATH: '/usr/bin:/bin' };
      const viaGh = await ao(['project', 'add', bare.path, '--id', 'viagh', '--json'], withGh);
      expect(json(viaGh)).toMatchObject({ id: 'viagh', repoUrl: 'https://github.com/Acme/Widgets' });
      const none = await ao(['project', 'add', bare.path, '--id', 'noorigin', '--json'], noGh);
      expect(json(none)).toMatchObject({ id: 'noorigin', repoUrl: '' });

      const s = await newSession('noorigin');
      const n = addPr();
      const run = await ao(['session', 'claim-pr', s, String(n)], withGh);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`claimed PR #${n}`);
      const without = await ao(['session', 'claim-pr', s, String(n)], noGh);
      expect(without.code).toBe(2);
      expect(without.stderr).toContain('pass the full PR URL');
    } finally {
      await bare.remove();
      await rm(ghDir, { recursive: true, force: true });
    }
  });

  it('refuses a session outside the --project given, as a usage error', async () => {
    const s = await newSession();
    const run = await ao(['session', 'claim-pr', s, '1', '-p', 'other']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`session ${s} is not in project other`);
  });
});

describe('ao pr reclaim', () => {
  it('re-claims a session\'s PRs, printing each change and a summary by outcome; --json prints the batch; a usage error without one selector', async () => {
    const s = await newSession();
    const prs = [addPr(), addPr(), addPr()];
    for (const n of prs) expect((await ao(['session', 'claim-pr', s, String(n)])).code).toBe(0);
    stack.github.updatePullRequest('Acme', 'Widgets', prs[1] as number, { title: 'renamed', updatedAt: '2026-11-30T00:00:00Z' });

    const human = await ao(['pr', 'reclaim', '--session', s]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain(`refreshed  https://github.com/acme/widgets/pull/${prs[1]}`);
    expect(human.stdout.trim().split('\n').map((l) => l.split(/ +/))).toEqual([
      ['OUTCOME', 'PRS'],
      ['refreshed', '1'],
      ['unchanged', '2'],
      ['skipped', '0'],
      ['failed', '0'],
    ]);

    // a PR ao does not know is skipped without asking GitHub
    const machine = await ao(['pr', 'reclaim', `acme/widgets#${prs[0]}`, 'acme/widgets#999999', '--json']);
    expect(machine.code, machine.stdout).toBe(0);
    expect(json<Job>(machine)).toMatchObject({ kind: 'reclaim_batch', state: 'succeeded', result: { counts: { refreshed: 0, unchanged: 1, skipped: 1, failed: 0 } } });

    stack.github.removePullRequest('Acme', 'Widgets', prs[2] as number);
    const failing = await ao(['pr', 'reclaim', '--session', s, '--json']);
    expect(failing.code).toBe(1);
    expect(json<{ error: { code: string; details: { counts: Record<string, number> } } }>(failing).error).toMatchObject({
      code: 'RECLAIM_ITEMS_FAILED',
      details: { counts: { failed: 1 } },
    });

    const usage = await ao(['pr', 'reclaim', '--all', '--orphaned']);
    expect(usage.code).toBe(2);
  });
});

describe('ao api and ao worker (the compiled processes)', () => {
  it('serve against the configured Postgres and Redis and stop cleanly on SIGINT', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      DATABASE_URL: stack.db.url,
      ...queueEnv(stack.queue),
      AO_PORT: '0',
      AO_DATA_DIR: join(home, 'data'),
      AO_LOG_LEVEL: 'warn',
      GITHUB_GRAPHQL_URL: stack.github.url,
      GITHUB_TOKEN: stack.github.token,
    };
    const api = spawn(process.execPath, [bin, 'api'], { env });
    const worker = spawn(process.execPath, [bin, 'worker'], { env });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('ao api did not say where it listens')), 20_000);
        let err = '';
        api.stderr.on('data', (chunk: Buffer) => {
          err += chunk.toString();
          const match = /API on (http:\/\/[\d.:]+)/.exec(err);
          if (match) {
            clearTimeout(timer);
            resolve(match[1] as string);
          }
        });
      });
      expect(await (await fetch(`${url}/readyz`)).json()).toMatchObject({ status: 'ok' });
    } finally {
      api.kill('SIGINT');
      worker.kill('SIGINT');
    }
    const codes = await Promise.all([once(api, 'exit'), once(worker, 'exit')]);
    expect(codes.map(([code]) => code as number | null)).toEqual([0, 0]);
  });
});

describe('ao events --follow', () => {
  it('streams events as NDJSON until interrupted', async () => {
    const child = spawn(process.execPath, [bin, 'events', '--follow', '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: home, AO_API_URL: stack.api, AO_DATA_DIR: join(home, 'data') },
    });
    const lines: string[] = [];
    let partial = '';
    const sessionId = await new Promise<string>((resolve, reject) => {
      let created: string | undefined;
      const timer = setTimeout(() => reject(new Error(`no event for the new session in: ${lines.join('\n')}`)), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        partial += chunk.toString();
        const complete = partial.split('\n');
        partial = complete.pop() ?? '';
        lines.push(...complete);
        if (created && lines.some((l) => l.includes(`"key":"${created}"`))) {
          clearTimeout(timer);
          resolve(created);
        }
      });
      // once the stream is up (it replays history first), create something new to see
      setTimeout(() => void newSession().then((id) => (created = id)), 500);
    });
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    const events = lines.map((l) => JSON.parse(l) as { type: string; key: string });
    expect(events.find((e) => e.key === sessionId)?.type).toBe('session_created');
  });
});

describe('every command speaks JSON', () => {
  it('session ls/show/prs/kill, job show, events parse as JSON', async () => {
    const s = await newSession();
    const n = addPr();
    const claimed = json<{ id: string }>(await ao(['session', 'claim-pr', s, String(n), '--json']));
    expect(json<{ sessions: unknown[] }>(await ao(['session', 'ls', '--project', 'widgets', '--json'])).sessions.length).toBeGreaterThan(0);
    expect(json(await ao(['session', 'show', s, '--json']))).toMatchObject({ id: s });
    expect(json(await ao(['session', 'prs', s, '--json']))).toMatchObject({ sessionId: s, prs: [{ number: n }] });
    expect(json(await ao(['job', 'show', claimed.id, '--json']))).toMatchObject({ id: claimed.id, state: 'succeeded' });
    expect(json<{ events: unknown[] }>(await ao(['events', '--limit', '5', '--json'])).events).toHaveLength(5);
    expect(json(await ao(['session', 'kill', s, '--json']))).toMatchObject({ id: s, state: 'terminated' });
    expect(json(await ao(['session', 'rm', s, '--json']))).toEqual({ deleted: s });
    const missing = await ao(['session', 'show', 'nope-1', '--json']);
    expect(missing.code).toBe(1);
    expect(json(missing)).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });
  });

  it('job ls lists jobs newest first, as JSON each as job show prints it, filtered and limited; a table for humans', async () => {
    const s = await newSession();
    const first = json<Job>(await ao(['session', 'claim-pr', s, String(addPr()), '--json']));
    const second = json<Job>(await ao(['session', 'claim-pr', s, String(addPr()), '--json']));
    const mine = await ao(['job', 'ls', '--session', s, '--json']);
    expect(mine.code, mine.stderr).toBe(0);
    const listed = json<{ jobs: Job[] }>(mine).jobs;
    expect(listed.map((j) => j.id)).toEqual([second.id, first.id]);
    expect(listed[1]).toEqual(json(await ao(['job', 'show', first.id, '--json'])));
    expect(json<{ jobs: Job[] }>(await ao(['job', 'ls', '--session', s, '--limit', '1', '--json'])).jobs.map((j) => j.id)).toEqual([second.id]);
    const claims = json<{ jobs: Job[] }>(await ao(['job', 'ls', '--kind', 'claim', '--state', 'succeeded', '--json'])).jobs;
    expect(claims.length).toBeGreaterThan(1);
    expect(claims.every((j) => j.kind === 'claim' && j.state === 'succeeded')).toBe(true);
    const human = await ao(['job', 'ls', '--session', s]);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +KIND +STATE +SESSION +STEP\/ERROR +AGE$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 4))).toEqual([
      [second.id, 'claim', 'succeeded', s],
      [first.id, 'claim', 'succeeded', s],
    ]);
    const bad = await ao(['job', 'ls', '--state', 'done']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Expected --state=done to be one of');
  });

  it('status says where ao stands (JSON and human); project rm archives, refusing while live sessions exist', async () => {
    const status = await ao(['status', '--json']);
    expect(status.code, status.stdout).toBe(0);
    expect(json(status)).toMatchObject({ queueBackend: testQueueBackend(), postgres: { ok: true }, hosts: expect.arrayContaining([expect.objectContaining({ id: 'test', workers: 1 })]) });
    // (the stopped `ao worker` of an earlier test is listed too, with no live worker)
    const human = await ao(['status']);
    expect(human.stdout).toContain('host       test: 1 live worker');

    const other = await makeCheckout();
    try {
      expect((await ao(['project', 'add', other.path, '--id', 'archivable'])).code).toBe(0);
      await newSession('archivable');
      const refused = await ao(['project', 'rm', 'archivable', '--json']);
      expect(refused.code).toBe(1);
      expect(json<{ error: { code: string } }>(refused).error.code).toBe('PROJECT_HAS_SESSIONS');
      const forced = await ao(['project', 'rm', 'archivable', '--force']);
      expect([forced.code, forced.stdout.trim()]).toEqual([0, 'project archivable archived']);
    } finally {
      await other.remove();
    }
  });

  it('the manifest the build wrote lists exactly the compiled commands', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    expect(Object.keys(manifest.commands).sort()).toEqual([
      'api',
      'events',
      'job:ls',
      'job:show',
      'job:wait',
      'pr:reclaim',
      'project:add',
      'project:ls',
      'project:rm',
      'session:claim-pr',
      'session:kill',
      'session:ls',
      'session:prs',
      'session:rm',
      'session:show',
      'spawn',
      'start',
      'status',
      'worker',
    ]);
  });
});
