import { Args, Flags } from '@oclif/core';
import { z } from 'zod';
import { AoCommand, CliFailure, EXIT, EXIT_HELP } from '../../base-command.js';
import { CliJob, isFinished } from '../../wait-for-job.js';

const Accepted = z.object({ jobId: z.string(), state: z.string(), links: z.object({ self: z.string() }) });
const Counts = z.object({ refreshed: z.number(), unchanged: z.number(), skipped: z.number(), failed: z.number() });
const ItemPage = z.object({ items: z.array(CliJob), nextCursor: z.string().nullable() });
const ItemResult = z.object({ pr: z.string(), outcome: z.string() });

export default class PrReclaim extends AoCommand {
  static override summary = "Re-fetch many PRs from GitHub and re-apply their snapshots, keeping their owners";
  static override description = `Runs as one batch job with one item per PR: ao waits for it by default, with a progress bar on a terminal (one line per changed PR otherwise), and ends with a summary by outcome (refreshed, unchanged, skipped, failed).
Ctrl-C stops watching; the batch goes on (\`ao job wait <id>\` attaches again, \`ao job show <id>\` shows it).
Select exactly one of: PR refs (owner/repo#142 or URLs), --session, --project, --orphaned (owner terminated), --all.
${EXIT_HELP}`;
  static override examples = [
    '<%= config.bin %> pr reclaim --project widgets',
    '<%= config.bin %> pr reclaim acme/widgets#142 acme/widgets#143',
    '<%= config.bin %> pr reclaim --all --include-closed --no-wait --json',
  ];
  static override strict = false;
  static override args = { prs: Args.string({ description: 'PR refs (owner/repo#n or URLs)', required: false }) };
  static override flags = {
    session: Flags.string({ description: 'every PR this session owns' }),
    project: Flags.string({ description: 'every PR of this project' }),
    orphaned: Flags.boolean({ description: 'every PR whose owner is terminated' }),
    all: Flags.boolean({ description: 'every PR ao knows' }),
    'include-closed': Flags.boolean({ description: 'also merged and closed PRs' }),
    wait: Flags.boolean({ description: 'wait for the batch (--no-wait prints the job id)', default: true, allowNo: true }),
    timeout: Flags.integer({ description: 'seconds to wait before giving up (the batch goes on)', default: 3600, min: 1 }),
  };

  async run(): Promise<unknown> {
    const { argv, flags } = await this.parse(PrReclaim);
    const prs = argv.map(String);
    const selectors: Array<[string, unknown]> = [];
    if (prs.length > 0) selectors.push(['prs', prs]);
    if (flags.session) selectors.push(['sessionId', flags.session]);
    if (flags.project) selectors.push(['projectId', flags.project]);
    if (flags.orphaned) selectors.push(['orphaned', true]);
    if (flags.all) selectors.push(['all', true]);
    if (selectors.length !== 1) {
      throw new CliFailure('USAGE', 'give exactly one of: PR refs, --session, --project, --orphaned, --all', EXIT.usage);
    }
    const api = this.api();
    const { body: accepted } = await api.request('POST', '/api/v1/pr/reclaims', {
      body: { ...Object.fromEntries(selectors), includeClosed: flags['include-closed'] },
      schema: Accepted,
    });
    if (!flags.wait) {
      this.say(`re-claim queued: job ${accepted.jobId}`);
      this.say(`status: ${api.baseUrl}${accepted.links.self}`);
      return accepted;
    }

    const detach = () => {
      process.stderr.write(`\nstopped watching; the batch goes on: ao job wait ${accepted.jobId}\n`);
      process.exit(EXIT.timeout);
    };
    process.once('SIGINT', detach);
    try {
      const job = await this.watch(accepted.jobId, flags.timeout * 1000);
      if (!isFinished(job.state)) {
        throw new CliFailure('WAIT_TIMEOUT', `batch ${job.id} is still ${job.state} (${job.step ?? ''}); attach with: ao job wait ${job.id}`, EXIT.timeout, { jobId: job.id });
      }
      if (job.state !== 'succeeded') {
        throw new CliFailure(job.error?.code ?? 'JOB_FAILED', `batch ${job.id} ended ${job.state}${job.error ? `: ${job.error.message}` : ''}`, EXIT.failure, { jobId: job.id });
      }
      const counts = Counts.parse((job.result as { counts?: unknown } | null)?.counts);
      this.table(
        Object.entries(counts).map(([outcome, n]) => ({ outcome, prs: String(n) })),
        ['outcome', 'prs'],
      );
      if (counts.failed > 0) {
        throw new CliFailure('RECLAIM_ITEMS_FAILED', `${counts.failed} of the batch's PRs failed (see: ao job show ${job.id})`, EXIT.failure, { jobId: job.id, counts });
      }
      return job;
    } finally {
      process.removeListener('SIGINT', detach);
    }
  }

  /**
   * Follows the batch: a progress bar (done/total, rate, ETA) on a terminal; otherwise one line per
   * PR that changed, read from the items as they finish. Returns the batch as last seen.
   */
  private async watch(jobId: string, timeoutMs: number): Promise<CliJob> {
    const api = this.api();
    const deadline = Date.now() + timeoutMs;
    const started = Date.now();
    const tty = process.stderr.isTTY && !this.jsonEnabled();
    let cursor: string | null = null;
    for (;;) {
      const wait = Math.max(0, Math.min(Math.ceil((deadline - Date.now()) / 1000), 2));
      const { body: job } = await api.request('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}${wait > 0 ? `?wait=${wait}` : ''}`, { schema: CliJob });
      if (!this.jsonEnabled()) {
        if (tty) {
          process.stderr.write(`\r\x1b[2K${bar(job, started)}`);
        } else {
          cursor = await this.printChanges(jobId, cursor);
        }
      }
      if (isFinished(job.state) || Date.now() >= deadline) {
        if (tty) process.stderr.write('\n');
        else if (!this.jsonEnabled()) await this.printChanges(jobId, cursor);
        return job;
      }
    }
  }

  private readonly printed = new Set<string>();

  /**
   * One line per finished item that changed something or failed, read from `cursor` on; returns
   * the cursor of the last page whose items had all finished (the next read starts there).
   */
  private async printChanges(jobId: string, cursor: string | null): Promise<string | null> {
    let next = cursor;
    for (;;) {
      const query = `limit=1000${next ? `&cursor=${encodeURIComponent(next)}` : ''}`;
      const { body: page } = await this.api().request('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}/items?${query}`, { schema: ItemPage });
      let complete = true;
      for (const item of page.items) {
        if (!isFinished(item.state)) {
          complete = false;
          continue;
        }
        if (this.printed.has(item.id)) continue;
        this.printed.add(item.id);
        const result = ItemResult.safeParse(item.result);
        if (result.success && result.data.outcome !== 'unchanged') process.stderr.write(`${result.data.outcome}  ${result.data.pr}\n`);
      }
      if (!complete || !page.nextCursor) return next;
      next = page.nextCursor;
    }
  }
}

function bar(job: CliJob, started: number): string {
  const done = job.progress?.done ?? 0;
  const total = job.progress?.total ?? 0;
  const width = 30;
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  const seconds = (Date.now() - started) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 && total > done ? `${Math.ceil((total - done) / rate)}s` : '-';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${rate.toFixed(1)}/s  eta ${eta}  ${job.step ?? job.state}`;
}
