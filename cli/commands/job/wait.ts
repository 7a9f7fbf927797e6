import { Args, Flags } from '@oclif/core';
import { AoCommand, CliFailure, EXIT, EXIT_HELP } from '../../base-command.js';
import { isFinished, waitForJob } from '../../wait-for-job.js';

export default class JobWait extends AoCommand {
  static override summary = 'Wait for a job to finish';
  static override description = `Exits 0 when the job succeeded, 1 when it ended any other way (failed, compensated, cancelled), 4 when a compensation failed, 3 when it is still unfinished at the timeout (it goes on).
${EXIT_HELP}`;
  static override examples = ['<%= config.bin %> job wait job_0123abcd', '<%= config.bin %> job wait job_0123abcd --timeout 30 --json'];
  static override args = { id: Args.string({ description: 'job id', required: true }) };
  static override flags = { timeout: Flags.integer({ description: 'seconds to wait', default: 300, min: 1 }) };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(JobWait);
    const job = await waitForJob(this.api(), args.id, flags.timeout * 1000, { quiet: this.jsonEnabled(), label: `job ${args.id}` });
    if (job.state === 'succeeded') {
      this.say(`job ${job.id} succeeded`);
      return job;
    }
    const details = { ...(job.error?.details ?? {}), jobId: job.id };
    if (!isFinished(job.state)) throw new CliFailure('WAIT_TIMEOUT', `job ${job.id} is still ${job.state}; it goes on`, EXIT.timeout, details);
    const exit = job.state === 'compensation_failed' ? EXIT.compensationFailed : EXIT.failure;
    const code = job.error?.code ?? (job.state === 'cancelled' ? 'JOB_CANCELLED' : 'JOB_FAILED');
    throw new CliFailure(code, `job ${job.id} ended ${job.state}: ${job.error?.message ?? 'no reason given'}`, exit, details);
  }
}
