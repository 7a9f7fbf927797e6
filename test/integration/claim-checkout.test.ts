import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimResult, Job, Session } from '../../core/domain.js';
import { spawnWorkerProcess } from '../support/child.js';
import { allEvents, eventsSince } from '../support/fixtures.js';
import { makeGitGate, type GitGate } from '../support/git-gate.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';

/**
 * A claim checks the PR out for real (issue 13): the worker of the session's host fetches
 * `refs/pull/<n>/head` from the project's origin (a real bare repository, test/support/stack.ts
 * makeCheckout) and moves the session's worktree onto it, and the claim transaction records it.
 */

let stack: Stack;
let checkout: Awaited<ReturnType<typeof makeCheckout>>;
let gate: GitGate;
let number = 1;

beforeAll(async () => {
  stack = await startStack();
  checkout = await makeCheckout();
  gate = await makeGitGate();
  expect((await stack.http('POST', '/api/v1/projects', { path: checkout.path, id: 'widgets' })).status).toBe(201);
});
afterAll(async () => {
  await stack.close();
  await checkout.remove();
  await gate.remove();
});

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' }).toString().trim();
const branchOf = (path: string) => git(path, 'symbolic-ref', '--short', 'HEAD');

async function session(): Promise<Session> {
  const reply = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets' });
  expect(reply.status).toBe(201);
  return reply.body;
}

function addPr(extra: Record<string, unknown> = {}): number {
  const n = number++;
  stack.github.addPullRequest('Acme', 'Widgets', { number: n, rollupState: 'SUCCESS', ...extra });
  return n;
}

async function claim(sessionId: string, pr: number, allowTakeover = true): Promise<Job> {
  const reply = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${sessionId}/pr/claim`, { pr: String(pr), allowTakeover });
  expect(reply.status).toBe(202);
  return stack.waitForJob(reply.body.jobId);
}

async function sessionRow(id: string): Promise<Session> {
  return (await stack.http<Session>('GET', `/api/v1/sessions/${id}`)).body;
}

describe('a claim checks the PR out in the session worktree', () => {
  it('switches the worktree to the PR head branch, says so, and records the branch on the session', async () => {
    const s = await session();
    expect(branchOf(s.workspacePath)).toBe(`ao/${s.id}/root`);
    const pr = addPr();
    const job = await claim(s.id, pr);
    expect(job.state).toBe('succeeded');
    expect(job.result).toMatchObject({ branchChanged: true, branch: `feature/${pr}`, pushTarget: 'origin' });
    expect(branchOf(s.workspacePath)).toBe(`feature/${pr}`);
    expect(git(s.workspacePath, 'rev-parse', 'HEAD')).toBe(git(checkout.origin, 'rev-parse', `refs/pull/${pr}/head`));
    expect((await sessionRow(s.id)).branch).toBe(`feature/${pr}`);

    const again = await claim(s.id, pr);
    expect(again.result).toMatchObject({ branchChanged: false, branch: `feature/${pr}` });
  });

  it("checks out a fork PR on pr/<n>/<head> and names the fork as the push target when its maintainers may push", async () => {
    const s = await session();
    const fork = { isCrossRepository: true, headRefName: 'main', headRepository: { owner: 'someone', name: 'widgets' } };
    const writable = addPr({ ...fork, maintainerCanModify: true });
    expect((await claim(s.id, writable)).result).toMatchObject({ branchChanged: true, branch: `pr/${writable}/main`, pushTarget: 'someone/widgets' });
    const readOnly = addPr(fork);
    expect((await claim(s.id, readOnly)).result).toMatchObject({ branch: `pr/${readOnly}/main`, pushTarget: null });
    expect(branchOf(s.workspacePath)).toBe(`pr/${readOnly}/main`);
  });

  it('refuses a dirty worktree with WORKSPACE_DIRTY, writing no PR and no PR event', async () => {
    const s = await session();
    const pr = addPr();
    await writeFile(join(s.workspacePath, 'unsaved.txt'), 'work in progress\n');
    const before = await allEvents(stack.db.sql);
    const job = await claim(s.id, pr);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'WORKSPACE_DIRTY' } });
    expect(branchOf(s.workspacePath)).toBe(`ao/${s.id}/root`);
    const [row] = await stack.db.sql`select 1 from ao.pull_requests where number = ${pr}`;
    expect(row).toBeUndefined();
    expect((await eventsSince(stack.db.sql, before)).filter((e) => e.entity !== 'job')).toEqual([]);
  });

  it('takes the branch from a clean donor it takes the PR over from: the donor goes back to its root branch', async () => {
    const donor = await session();
    const claimant = await session();
    const pr = addPr();
    await claim(donor.id, pr);
    const job = await claim(claimant.id, pr);
    expect(job.state).toBe('succeeded');
    const result = job.result as ClaimResult;
    expect(result).toMatchObject({ takenOverFrom: [donor.id], branchChanged: true, branch: `feature/${pr}` });
    expect(branchOf(donor.workspacePath)).toBe(`ao/${donor.id}/root`);
    expect(branchOf(claimant.workspacePath)).toBe(`feature/${pr}`);
    expect((await sessionRow(donor.id)).branch).toBe(`ao/${donor.id}/root`);
  });

  it('refuses BRANCH_CHECKED_OUT_ELSEWHERE, naming the donor, when the donor has uncommitted changes; the PR stays its', async () => {
    const donor = await session();
    const claimant = await session();
    const pr = addPr();
    await claim(donor.id, pr);
    await writeFile(join(donor.workspacePath, 'wip.txt'), 'wip\n');
    const job = await claim(claimant.id, pr);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'BRANCH_CHECKED_OUT_ELSEWHERE', details: { sessionId: donor.id } } });
    expect(branchOf(donor.workspacePath)).toBe(`feature/${pr}`);
    expect(branchOf(claimant.workspacePath)).toBe(`ao/${claimant.id}/root`);
    const [row] = await stack.db.sql<[{ session_id: string }]>`select session_id from ao.pull_requests where number = ${pr}`;
    expect(row.session_id).toBe(donor.id);
  });

  it('runs two claims of one session one after the other: the session names the branch its worktree is on', async () => {
    const s = await session();
    const first = addPr();
    const second = addPr();
    const [a, b] = await Promise.all([claim(s.id, first), claim(s.id, second)]);
    expect([a.state, b.state]).toEqual(['succeeded', 'succeeded']);
    const onDisk = branchOf(s.workspacePath);
    expect([`feature/${first}`, `feature/${second}`]).toContain(onDisk);
    expect((await sessionRow(s.id)).branch).toBe(onDisk);
  });

  it('moves nothing when an active owner may not be taken over (the transaction refuses)', async () => {
    const owner = await session();
    const other = await session();
    const pr = addPr();
    await claim(owner.id, pr);
    const job = await claim(other.id, pr, false);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'PR_CLAIMED_BY_ACTIVE_SESSION' } });
    expect(branchOf(owner.workspacePath)).toBe(`feature/${pr}`);
    expect(branchOf(other.workspacePath)).toBe(`ao/${other.id}/root`);
  });
});

describe('a claim refused after its checkout', () => {
  it('puts the worktree back where it was when the transaction refuses after the switch', async () => {
    await stack.stopWorker();
    const worker = spawnWorkerProcess(stack, { PATH: gate.path });
    try {
      await worker.ready;
      const s = await session();
      const pr = addPr();
      await gate.pauseAfter('switch');
      const reply = await stack.http<{ jobId: string }>('POST', `/api/v1/sessions/${s.id}/pr/claim`, { pr: String(pr) });
      await gate.paused('switch');
      expect(branchOf(s.workspacePath)).toBe(`feature/${pr}`);
      // the session ends between the switch and the claim transaction: the transaction refuses
      expect((await stack.http('POST', `/api/v1/sessions/${s.id}/kill`)).status).toBe(200);
      await gate.release('switch');
      const job = await stack.waitForJob(reply.body.jobId);
      expect(job).toMatchObject({ state: 'failed', error: { code: 'SESSION_TERMINATED' } });
      expect(branchOf(s.workspacePath)).toBe(`ao/${s.id}/root`);
      expect(git(checkout.path, 'for-each-ref', `refs/heads/feature/${pr}`)).toBe('');
    } finally {
      await worker.kill();
      await stack.startWorker();
    }
  });

  it('leaves no directory and no branch behind when a spawned session’s claim fails', async () => {
    const reply = await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'widgets', provisional: true });
    const s = reply.body;
    const job = await claim(s.id, 999_999);
    expect(job).toMatchObject({ state: 'compensated', error: { code: 'PR_NOT_FOUND' } });
    expect(existsSync(s.workspacePath)).toBe(false);
    expect(git(checkout.path, 'for-each-ref', `refs/heads/ao/${s.id}`)).toBe('');
  });
});
