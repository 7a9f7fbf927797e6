import { ux } from '@oclif/core';
import { Job, TERMINAL_JOB_STATES } from '../core/domain.js';
import type { ApiClient } from './api-client.js';

/**
 * Long-polls GET /jobs/{id}?wait until the job finishes or `timeoutMs` passes, showing the job's
 * step on stderr. Returns the job as last seen; the caller decides what an unfinished one means.
 */
export async function waitForJob(api: ApiClient, jobId: string, timeoutMs: number, options: { quiet: boolean; label: string }): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  if (!options.quiet) ux.action.start(options.label, 'queued', { stdout: false });
  try {
    for (;;) {
      const left = deadline - Date.now();
      const wait = Math.max(0, Math.min(Math.ceil(left / 1000), 20));
      const { body: job } = await api.request('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}${wait > 0 ? `?wait=${wait}` : ''}`, { schema: Job });
      if (!options.quiet) ux.action.status = job.step ?? job.state;
      if (TERMINAL_JOB_STATES.has(job.state) || Date.now() >= deadline) {
        if (!options.quiet) ux.action.stop(job.state);
        return job;
      }
    }
  } catch (err) {
    if (!options.quiet) ux.action.stop('error');
    throw err;
  }
}
