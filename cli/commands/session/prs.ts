import { Args } from '@oclif/core';
import { z } from 'zod';
import { PullRequest } from '../../../core/domain.js';
import { AoCommand } from '../../base-command.js';

export default class SessionPrs extends AoCommand {
  static override summary = "A session's pull requests: open before closed, most recently updated first";
  static override examples = ['<%= config.bin %> session prs widgets-3', '<%= config.bin %> session prs widgets-3 --json'];
  static override args = { id: Args.string({ description: 'session id', required: true }) };

  async run(): Promise<unknown> {
    const { args } = await this.parse(SessionPrs);
    const { body } = await this.api().request('GET', `/api/v1/sessions/${encodeURIComponent(args.id)}/pr`, {
      schema: z.object({ sessionId: z.string(), prs: z.array(PullRequest) }),
    });
    this.table(
      body.prs.map((p) => ({
        pr: `#${p.number}`,
        state: p.state,
        ci: p.ci,
        review: p.review,
        mergeability: p.mergeability,
        threads: String(p.reviewThreads.filter((t) => !t.isResolved).length),
        title: p.title,
      })),
      ['pr', 'state', 'ci', 'review', 'mergeability', 'threads', 'title'],
    );
    return body;
  }
}
