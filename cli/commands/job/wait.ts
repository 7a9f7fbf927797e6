import { Args, Flags } from '@oclif/core';
import { AoCommand, CliFailure, EXIT, EXIT_HELP } from '../../base-command.js';
import { waitForJob } from '../../wait-for-job.js';

export default class JobWait extends AoCommand {
  static override summary = 'Wait for a job to finish';
  static override description = EXIT_HELP;
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
    if (job.state === 'failed') throw new CliFailure(job.error?.code ?? 'JOB_FAILED', `job ${job.id} failed: ${job.error?.message ?? ''}`, EXIT.failure, { jobId: job.id });
    throw new CliFailure('WAIT_TIMEOUT', `job ${job.id} is still ${job.state}; it goes on`, EXIT.timeout, { jobId: job.id });
  }
}
