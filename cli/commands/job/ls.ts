import { Flags } from '@oclif/core';
import { z } from 'zod';
import { Job, JobKind, JobState } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

const JobPage = z.object({ jobs: z.array(Job), nextCursor: z.string().nullable() });

/** Jobs per request at most: the API's largest page. */
const PAGE_SIZE = 1000;

/** How long ago, in the largest whole unit: a table column, not a timestamp. */
function age(iso: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export default class JobLs extends AoCommand {
  static override summary = 'List jobs, newest first';
  static override examples = [
    '<%= config.bin %> job ls',
    '<%= config.bin %> job ls --session widgets-1 --state failed',
    '<%= config.bin %> job ls --kind reclaim_batch --limit 5 --json',
  ];
  static override flags = {
    kind: Flags.string({ description: 'only this kind', options: JobKind.options }),
    state: Flags.string({ description: 'only this state', options: JobState.options }),
    session: Flags.string({ description: "only this session's jobs" }),
    limit: Flags.integer({ description: 'at most this many (the newest)', default: 100, min: 1 }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(JobLs);
    const jobs: Job[] = [];
    // the API answers a page at a time: follow nextCursor until --limit jobs or the end
    let cursor: string | null = null;
    do {
      const query: URLSearchParams = new URLSearchParams({
        ...(flags.kind ? { kind: flags.kind } : {}),
        ...(flags.state ? { state: flags.state } : {}),
        ...(flags.session ? { sessionId: flags.session } : {}),
        ...(cursor ? { cursor } : {}),
        limit: String(Math.min(PAGE_SIZE, flags.limit - jobs.length)),
      });
      const page: z.infer<typeof JobPage> = (await this.api().request('GET', `/api/v1/jobs?${query}`, { schema: JobPage })).body;
      jobs.push(...page.jobs);
      cursor = page.nextCursor;
    } while (cursor !== null && jobs.length < flags.limit);
    const now = Date.now();
    this.table(
      jobs.map((j) => ({
        id: j.id,
        kind: j.kind,
        state: j.state,
        session: j.sessionId ?? '',
        // a finished job's error says more than its last step
        'step/error': j.error?.code ?? j.step ?? '',
        age: age(j.createdAt, now),
      })),
      ['id', 'kind', 'state', 'session', 'step/error', 'age'],
    );
    return { jobs };
  }
}
