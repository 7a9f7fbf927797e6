import type { Db } from '../../core/db/connect.js';
import type { PrSnapshot, Session, SessionKind } from '../../core/domain.js';
import { insertProject } from '../../core/store/projects.js';
import { finishSessionCreation, insertSession, recordWorktreeIntent, setSessionState } from '../../core/store/sessions.js';
import { readEvents, START, type ChangeEvent } from '../../core/store/read-events.js';

/** The host id of the test stack's API and worker: the sessions tests make are on it. */
export const TEST_HOST_ID = 'test';

let clock = Date.parse('2026-11-01T00:00:00Z');

/** strictly increasing observation times, so successive snapshots are each newer than the last */
export function nextObservedAt(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

export function snapshot(overrides: Partial<PrSnapshot> = {}): PrSnapshot {
  return {
    owner: 'Acme',
    repo: 'Widgets',
    number: 42,
    title: 'Add the widget',
    author: 'octocat',
    state: 'open',
    ci: 'passing',
    review: 'none',
    mergeability: 'mergeable',
    isDraft: false,
    headBranch: 'feature/widget',
    headSha: 'aaaaaaa',
    baseBranch: 'main',
    baseSha: 'bbbbbbb',
    headRepository: 'Acme/Widgets',
    isCrossRepository: false,
    additions: 10,
    deletions: 2,
    changedFiles: 3,
    providerCreatedAt: '2026-10-01T00:00:00.000Z',
    providerUpdatedAt: '2026-10-02T00:00:00.000Z',
    mergedAt: null,
    closedAt: null,
    observedAt: nextObservedAt(),
    checks: [{ name: 'build', sha: 'aaaaaaa', status: 'passed', conclusion: 'success', url: 'https://ci/1' }],
    reviewThreads: [],
    ...overrides,
  };
}

export async function seedProject(db: Db, id = 'mer', repoUrl = 'https://github.com/Acme/Widgets'): Promise<string> {
  await insertProject(db, { id, path: `/src/${id}`, repoUrl, defaultBranch: 'main', host: TEST_HOST_ID });
  return id;
}

export async function seedSession(
  db: Db,
  projectId: string,
  options: { kind?: SessionKind; workspace?: boolean } = {},
): Promise<Session> {
  const session = await insertSession(db, {
    projectId,
    kind: options.kind ?? 'worker',
    branch: null,
    host: TEST_HOST_ID,
    leaseSeconds: 600,
  });
  if (options.workspace !== false) await recordWorktreeIntent(db, session.id, '/work');
  const active = await finishSessionCreation(db, session.id, false);
  return active;
}

export async function terminate(db: Db, sessionId: string): Promise<void> {
  await setSessionState(db, sessionId, 'terminated');
}

export async function allEvents(db: Db): Promise<ChangeEvent[]> {
  const { events } = await readEvents(db, { after: START, limit: 1000 });
  return events;
}

/** events appended after `before` (a previous allEvents result) */
export async function eventsSince(db: Db, before: ChangeEvent[]): Promise<ChangeEvent[]> {
  const last = before.at(-1);
  const all = await allEvents(db);
  return last ? all.slice(all.findIndex((e) => e.id === last.id) + 1) : all;
}
