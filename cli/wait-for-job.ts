import { ux } from '@oclif/core';
import { z } from 'zod';
import { Job, JobState, TERMINAL_JOB_STATES } from '../core/domain.js';
import type { ApiClient } from './api-client.js';

/**
 * A job as the CLI reads it: core's Job, except that its state may also be `cancelled` (SPEC §2:
 * `DELETE /jobs/{id}` cancels a queued job), so an answer with that state is read, not refused.
 */
export const CliJob = z.object({ ...Job.shape, state: z.union([JobState, z.literal('cancelled')]) });
export type CliJob = z.infer<typeof CliJob>;

const FINISHED: ReadonlySet<string> = new Set<string>([...TERMINAL_JOB_STATES, 'cancelled']);

/** A terminal state: the job will never change again. */
export function isFinished(state: string): boolean {
  return FINISHED.has(state);
}

/** Progress on stderr: a spinner on a terminal, one line per change otherwise (logs, pipes). */
function progressReporter(label: string, quiet: boolean): { update(text: string): void; done(text: string): void } {
  if (quiet) return { update: () => {}, done: () => {} };
  if (process.stderr.isTTY) {
    ux.action.start(label, 'queued', { stdout: false });
    return { update: (text) => (ux.action.status = text), done: (text) => ux.action.stop(text) };
  }
  let last = '';
  const line = (text: string) => {
    if (text !== last) process.stderr.write(`${label}: ${text}\n`);
    last = text;
  };
  return { update: line, done: line };
}

/**
 * Long-polls GET /jobs/{id}?wait until the job finishes or `timeoutMs` passes, showing the job's
 * step on stderr. Returns the job as last seen; the caller decides what an unfinished one means.
 */
export async function waitForJob(api: ApiClient, jobId: string, timeoutMs: number, options: { quiet: boolean; label: string }): Promise<CliJob> {
  const deadline = Date.now() + timeoutMs;
  const progress = progressReporter(options.label, options.quiet);
  try {
    for (;;) {
      const left = deadline - Date.now();
      const wait = Math.max(0, Math.min(Math.ceil(left / 1000), 20));
      const { body: job } = await api.request('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}${wait > 0 ? `?wait=${wait}` : ''}`, { schema: CliJob });
      if (isFinished(job.state) || Date.now() >= deadline) {
        progress.done(job.state);
        return job;
      }
      progress.update(job.step ?? job.state);
    }
  } catch (err) {
    progress.done('error');
    throw err;
  }
}
