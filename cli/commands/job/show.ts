import { Args } from '@oclif/core';
import { Job } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

export default class JobShow extends AoCommand {
  static override summary = 'Show a job: its state, result or error';
  static override examples = ['<%= config.bin %> job show job_0123abcd'];
  static override args = { id: Args.string({ description: 'job id', required: true }) };

  async run(): Promise<unknown> {
    const { args } = await this.parse(JobShow);
    const { body: job } = await this.api().request('GET', `/api/v1/jobs/${encodeURIComponent(args.id)}`, { schema: Job });
    this.say(`job ${job.id} (${job.kind}) ${job.state}${job.step ? `: ${job.step}` : ''}  attempts ${job.attempts}`);
    if (job.error) this.say(`error: ${job.error.code}: ${job.error.message}`);
    return job;
  }
}
