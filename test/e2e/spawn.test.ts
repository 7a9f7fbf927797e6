import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/** `ao spawn --claim-pr`: nothing is created for a bad ref, and no orphan survives a failed claim. */

const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let home: string;
let number = 1;

beforeAll(async () => {
  stack = await startStack({ provisionalLeaseSeconds: 4 });
  checkout = await makeCheckout();
  home = await mkdtemp(join(tmpdir(), 'ao-spawn-'));
  await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' });
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
  await rm(home, { recursive: true, force: true });
});

const env = () => ({ PATH: process.env.PATH ?? '', HOME: home, AO_API_URL: stack.api, AO_DATA_DIR: join(home, 'data') });

function ao(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: env(), timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function sessions(): Promise<Array<{ id: string; state: string; workspace_path: string }>> {
  return stack.db.sql<Array<{ id: string; state: string; workspace_path: string }>>`select id, state, workspace_path from ao.sessions order by num`;
}

function addPr(extra: Record<string, unknown> = {}): number {
  const n = number++;
  stack.github.addPullRequest('Acme', 'Widgets', { number: n, ...extra });
  return n;
}

describe('ao spawn', () => {
  it('creates nothing for a bad ref, and --no-takeover needs --claim-pr', async () => {
    const before = await sessions();
    const bad = await ao(['spawn', '--project', 'widgets', '--claim-pr', 'nope nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid PR reference');
    const usage = await ao(['spawn', '--project', 'widgets', '--no-takeover']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--no-takeover requires --claim-pr');
    expect(await sessions()).toEqual(before);
  });

  it('creates nothing for a PR of another repository', async () => {
    const before = await sessions();
    const run = await ao(['spawn', '--project', 'widgets', '--claim-pr', 'https://github.com/other/repo/pull/1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('PR_PROJECT_MISMATCH');
    expect(await sessions()).toEqual(before);
  });

  it('removes the session itself when the API refuses the claim before any job exists', async () => {
    // sessions of project "nows" are born orchestrators, so the API refuses their claims at once (422)
    const repo = await makeCheckout();
    await stack.http('POST', '/api/v1/projects', { path: repo.path, id: 'nows' });
    await stack.db.sql.unsafe(`
      create function test_strip_workspace() returns trigger language plpgsql as $$
      begin new.kind := 'orchestrator'; return new; end $$;
      create trigger strip_workspace before insert on ao.sessions
        for each row when (new.project_id = 'nows') execute function test_strip_workspace();`);
    try {
      const before = await sessions();
      const run = await ao(['spawn', '--project', 'nows', '--claim-pr', '9001', '--json']);
      expect(run.code).toBe(1);
      const out = JSON.parse(run.stdout) as { error: { code: string; message: string } };
      expect(out.error.code).toBe('SESSION_NOT_CLAIMABLE');
      expect(out.error.message).toMatch(/session nows-\d+ was removed/);
      expect(await sessions()).toEqual(before);
    } finally {
      await stack.db.sql.unsafe('drop trigger strip_workspace on ao.sessions; drop function test_strip_workspace();');
      await repo.remove();
    }
  });

  it('spawns a session and claims the PR', async () => {
    const n = addPr();
    const run = await ao(['spawn', '--project', 'widgets', '--claim-pr', String(n)]);
    expect(run.code, run.stderr).toBe(0);
    const id = /spawned session (\S+)/.exec(run.stdout)?.[1];
    expect(run.stdout).toContain(`session ${id} claimed PR #${n}`);
    expect((await sessions()).find((s) => s.id === id)?.state).toBe('active');
  });

  it.each([
    ['an unknown PR', () => '777777', 'PR_NOT_FOUND'],
    ['a merged PR', () => String(addPr({ state: 'MERGED' })), 'PR_NOT_OPEN'],
  ])('leaves no session and no worktree when the claim fails (%s), and names the session', async (_case, ref, code) => {
    const before = await sessions();
    const run = await ao(['spawn', '--project', 'widgets', '--claim-pr', ref(), '--json']);
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as { error: { code: string; message: string; details: { sessionId: string } } };
    expect(out.error.code).toBe(code);
    expect(out.error.message).toContain(`session ${out.error.details.sessionId} was removed`);
    expect(await sessions()).toEqual(before);
    expect(existsSync(join(home, 'data', 'worktrees', 'widgets', out.error.details.sessionId))).toBe(false);
  });

  it('leaves no session when the PR is held by an active session and --no-takeover is given', async () => {
    const n = addPr();
    expect((await ao(['spawn', '--project', 'widgets', '--claim-pr', String(n)])).code).toBe(0);
    const before = await sessions();
    const run = await ao(['spawn', '--project', 'widgets', '--claim-pr', String(n), '--no-takeover']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('PR_CLAIMED_BY_ACTIVE_SESSION');
    expect(run.stderr).toMatch(/session \S+ was removed/);
    expect(await sessions()).toEqual(before);
  });

  it('exits 4 and leaves the session findable when removing it fails too', async () => {
    const fragile = await makeCheckout();
    await stack.http('POST', '/api/v1/projects', { path: fragile.path, id: 'fragile' });
    // hold the claim inside its GitHub call, then remove the checkout: git can no longer remove the worktree
    const gate = stack.github.holdRequests();
    const before = stack.github.stats.requests;
    const create = spawn(process.execPath, [bin, 'spawn', '--project', 'fragile', '--claim-pr', '888888', '--json'], { env: env() });
    await stack.github.waitForRequests(before + 1, 15_000);
    await rm(fragile.path, { recursive: true, force: true });
    gate.release();
    let stdout = '';
    create.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code] = (await once(create, 'exit')) as [number | null];
    expect(code).toBe(4);
    const out = JSON.parse(stdout) as { error: { code: string; message: string; details: { sessionId: string } } };
    expect(out.error.code).toBe('PR_NOT_FOUND');
    expect(out.error.message).toContain(`ao session rm ${out.error.details.sessionId} --force`);
    expect((await sessions()).find((s) => s.id === out.error.details.sessionId)?.state).toBe('provisional');
  });

  it('leaves no orphan when the CLI is SIGKILLed right after the session exists', async () => {
    const n = addPr();
    await stack.stopWorker(); // the claim, if it was sent, waits in the queue
    const before = new Set((await sessions()).map((s) => s.id));
    const child = spawn(process.execPath, [bin, 'spawn', '--project', 'widgets', '--claim-pr', String(n)], { env: env() });
    let orphan: { id: string; workspace_path: string } | undefined;
    const deadline = Date.now() + 15_000;
    while (!orphan && Date.now() < deadline) {
      orphan = (await sessions()).find((s) => !before.has(s.id));
      if (!orphan) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(orphan?.id).toBeDefined();

    // after the lease, whatever the CLI managed to send, the server removes the session
    const [row] = await stack.db.sql<[{ lease: Date }]>`select lease_expires_at as lease from ao.sessions where id = ${orphan!.id}`;
    const worker = await stack.startWorker();
    const gone = Date.now() + 20_000;
    for (;;) {
      if (Date.now() > row.lease.getTime()) await worker.cleanNow();
      if (!(await sessions()).some((s) => s.id === orphan!.id)) break;
      if (Date.now() > gone) throw new Error(`session ${orphan!.id} survived its lease`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(existsSync(orphan!.workspace_path)).toBe(false);
  });
});
