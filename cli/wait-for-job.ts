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

/**
 * Progress on stderr: a spinner on a terminal, one line per change otherwise (logs, pipes). Nothing
 * shows until the job has been seen (a job that does not exist gets only its error), and a wait that
 * fails leaves no line of its own: the error printed after it says what happened.
 */
function progressReporter(label: string, quiet: boolean): { update(text: string): void; done(text: string): void; abort(): void } {
  if (quiet) return { update: () => {}, done: () => {}, abort: () => {} };
  if (process.stderr.isTTY) {
    let spinning = false;
    return {
      update: (text) => {
        if (!spinning) ux.action.start(label, text, { stdout: false });
        else ux.action.status = text;
        spinning = true;
      },
      done: (text) => (spinning ? ux.action.stop(text) : process.stderr.write(`${label}... ${text}\n`)),
      abort: () => spinning && ux.action.stop('stopped'),
    };
  }
  let last = '';
  const line = (text: string) => {
    if (text !== last) process.stderr.write(`${label}: ${text}\n`);
    last = text;
  };
  return { update: line, done: line, abort: () => {} };
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
    progress.abort();
    throw err;
  }
}
