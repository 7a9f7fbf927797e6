import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AoError } from '../../core/errors.js';
import { claimPr } from '../../core/store/claim-pr.js';
import { createJob, getJob } from '../../core/store/jobs.js';
import { readEvents, START } from '../../core/store/read-events.js';
import { applyRetentionFully, changeLogFloor } from '../../core/store/retention.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { allEvents, seedProject, seedSession, snapshot } from '../support/fixtures.js';

/**
 * Retention (SPEC §4): old events, finished jobs, idempotency keys and checks of old commits
 * are deleted; a reader who missed deleted events is told (CURSOR_EXPIRED), never given a gap.
 * A retention of 0 s stands for "everything committed so far is old".
 */

let db: TestDatabase;
let projectId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  projectId = await seedProject(db.sql, 'kept');
});
afterAll(async () => {
  await db.close();
});

async function count(table: string): Promise<number> {
  const [row] = await db.sql.unsafe<[{ n: number }]>(`select count(*)::int as n from ao.${table}`);
  return row.n;
}

describe('retention', () => {
  it('deletes old events, finished jobs with their keys and old-commit checks, writes no event doing so, and keeps the rest', async () => {
    const session = await seedSession(db.sql, projectId);
    const finished = await createJob(db.sql, {
      kind: 'claim', sessionId: session.id, projectId, request: {}, idempotency: { scope: 'claim:x', key: 'k1', requestHash: 'h' },
    });
    await db.sql`update ao.jobs set state = 'failed', finished_at = now() where id = ${finished.job.id}`;
    const unfinished = await createJob(db.sql, { kind: 'claim', sessionId: session.id, projectId, request: {}, idempotency: null });
    const checks = (sha: string) => [{ name: 'build', sha, status: 'passed' as const, conclusion: 'SUCCESS', url: '' }];
    await claimPr(db.sql, { run: null, sessionId: session.id, allowTakeover: true, snapshot: snapshot({ number: 1, headSha: 'old', checks: checks('old') }) });
    await claimPr(db.sql, { run: null, sessionId: session.id, allowTakeover: true, snapshot: snapshot({ number: 1, headSha: 'new', checks: checks('new') }) });
    const before = await allEvents(db.sql);
    const seen = before.at(-3)?.id ?? '0'; // a reader that stopped a little before the end

    const deleted = await applyRetentionFully(db.sql, 0, 2);

    expect(deleted).toMatchObject({ jobs: 1, checks: 1 });
    expect(deleted.events).toBe(before.length);
    expect(await getJob(db.sql, finished.job.id)).toBeNull();
    expect(await getJob(db.sql, unfinished.job.id)).not.toBeNull();
    expect(await count('idempotency_keys')).toBe(0);
    const shas = await db.sql<Array<{ sha: string }>>`select sha from ao.pr_checks`;
    expect(shas.map((r) => r.sha)).toEqual(['new']);
    expect(await count('change_log')).toBe(0); // and retention wrote none of its own

    const floor = await changeLogFloor(db.sql);
    expect(`${floor.txId}-${floor.id}`).toBe(before.at(-1)?.id);

    const expired = await readEvents(db.sql, { after: parseId(seen), limit: 10 }).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(AoError);
    expect(expired).toMatchObject({ code: 'CURSOR_EXPIRED', details: { oldest: before.at(-1)?.id } });

    // from the floor on, and from the start, reading goes on normally
    await seedSession(db.sql, projectId);
    const fromFloor = await readEvents(db.sql, { after: floor, limit: 10 });
    const fromStart = await readEvents(db.sql, { after: START, limit: 10 });
    expect(fromFloor.events.map((e) => e.type)).toContain('session_created');
    expect(fromStart.events).toEqual(fromFloor.events);
  });

  it('keeps events that are not old yet, and events of transactions still running', async () => {
    await seedSession(db.sql, projectId);
    const kept = await count('change_log');
    expect((await applyRetentionFully(db.sql, 3600)).events).toBe(0);
    expect(await count('change_log')).toBe(kept);
  });
});

function parseId(id: string): { txId: bigint; id: bigint } {
  const [tx, n] = id.split('-');
  return { txId: BigInt(tx ?? '0'), id: BigInt(n ?? '0') };
}
