import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSession } from '../../core/store/sessions.js';
import { formatCursor, parseCursor, readEvents, START, type ChangeEvent } from '../../core/store/read-events.js';
import { AoError } from '../../core/errors.js';
import type { Db } from '../../core/db/connect.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { seedProject } from '../support/fixtures.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const newSession = (sql: Db, projectId: string) =>
  insertSession(sql, { projectId, kind: 'worker', branch: null, host: 'test', leaseSeconds: 600 });

/** A transaction held open until `release` is called: the test decides when it commits or rolls back. */
function holdTransaction(work: (tx: Db) => Promise<void>): {
  ready: Promise<void>;
  release: (outcome: 'commit' | 'rollback') => void;
  done: Promise<void>;
} {
  let markReady!: () => void;
  let release!: (outcome: 'commit' | 'rollback') => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const decision = new Promise<'commit' | 'rollback'>((resolve) => (release = resolve));
  const done = db.sql
    .begin(async (tx) => {
      await work(tx);
      markReady();
      if ((await decision) === 'rollback') throw new Error('rollback requested');
    })
    .then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof Error && err.message === 'rollback requested')) throw err;
      },
    );
  return { ready, release, done };
}

async function drain(after: string): Promise<ChangeEvent[]> {
  const { events } = await readEvents(db.sql, { after: parseCursor(after), limit: 1000 });
  return events;
}

describe('change log cursor', () => {
  it('never hands out a later commit before an earlier open transaction resolves, then returns both in order', async () => {
    const projectId = await seedProject(db.sql, 'gap');
    const start = (await readEvents(db.sql, { after: START, limit: 1000 })).nextCursor;

    const t1 = holdTransaction(async (tx) => {
      await newSession(tx, projectId); // takes the smaller event id and transaction id
    });
    await t1.ready;
    await seedProject(db.sql, 'gap2');
    const t2 = await newSession(db.sql, 'gap2'); // commits while T1 is still open

    // T2's event exists and is committed, but T1 may still commit an earlier one: hold it back.
    const [{ t2Committed }] = await db.sql<[{ t2Committed: number }]>`
      select count(*)::int as "t2Committed" from ao.change_log where session_id = ${t2.id}`;
    expect(t2Committed).toBe(1);
    expect(await drain(start)).toEqual([]);

    t1.release('commit');
    await t1.done;

    const events = await drain(start);
    expect(events.map((e) => [e.type, e.sessionId])).toEqual([
      ['session_created', `${projectId}-1`],
      ['session_created', t2.id],
    ]);
    // a reader who resumes from T1's event gets T2's, and nothing is skipped
    expect((await drain(events[0]!.id)).map((e) => e.sessionId)).toEqual([t2.id]);
  });

  it('releases later events when the open transaction rolls back', async () => {
    const projectId = await seedProject(db.sql, 'rolled');
    const start = (await readEvents(db.sql, { after: START, limit: 1000 })).nextCursor;
    const t1 = holdTransaction(async (tx) => {
      await newSession(tx, projectId);
    });
    await t1.ready;
    await db.sql`insert into ao.projects (id, path) values ('other', '/x')`;
    const other = await newSession(db.sql, 'other');
    expect(await drain(start)).toEqual([]);

    t1.release('rollback');
    await t1.done;

    expect((await drain(start)).map((e) => e.sessionId)).toEqual([other.id]);
  });

  it('pages with limit and nextCursor without repeating or skipping', async () => {
    const projectId = await seedProject(db.sql, 'pages');
    const start = (await readEvents(db.sql, { after: START, limit: 1000 })).nextCursor;
    for (let i = 0; i < 7; i++) await newSession(db.sql, projectId);
    const seen: string[] = [];
    let cursor = start;
    for (;;) {
      const page = await readEvents(db.sql, { after: parseCursor(cursor), limit: 3 });
      if (page.events.length === 0) {
        expect(page.nextCursor).toBe(cursor);
        break;
      }
      seen.push(...page.events.map((e) => e.sessionId ?? ''));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `${projectId}-${i + 1}`));
  });

  it('parses and formats cursors, rejecting garbage (and components beyond bigint) with VALIDATION_FAILED', () => {
    expect(parseCursor(undefined)).toEqual(START);
    expect(parseCursor('0')).toEqual(START);
    expect(formatCursor(parseCursor('123-456'))).toBe('123-456');
    for (const bad of ['abc', '1-', '-1', '1-2-3', '99999999999999999999-1', '9999999999999999999-1', '1-9223372036854775808']) {
      expect(() => parseCursor(bad)).toThrow(AoError);
      expect(() => parseCursor(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
    expect(parseCursor('9223372036854775807-9223372036854775807')).toEqual({ txId: 9223372036854775807n, id: 9223372036854775807n });
  });
});
