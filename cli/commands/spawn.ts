import { Flags } from '@oclif/core';
import { z } from 'zod';
import { ClaimResult, Project, Session } from '../../core/domain.js';
import { ApiError } from '../api-client.js';
import { AoCommand, CliFailure, EXIT, EXIT_HELP } from '../base-command.js';
import { PendingClaims, resolveRefForProject } from '../claim-support.js';
import { waitForJob } from '../wait-for-job.js';

const Accepted = z.object({ jobId: z.string(), state: z.string(), links: z.object({ self: z.string() }) });

export default class Spawn extends AoCommand {
  static override summary = 'Create a session with its own git worktree, optionally claiming a PR';
  static override description = `With --claim-pr the PR ref is checked before anything is created. The session is created provisional and becomes a real one when its claim succeeds; if the claim fails, the server removes the session and its worktree (also when this command was killed: a provisional session whose lease runs out is removed too).
${EXIT_HELP}`;
  static override examples = [
    '<%= config.bin %> spawn --project widgets',
    '<%= config.bin %> spawn --project widgets --claim-pr 142',
    '<%= config.bin %> spawn --project widgets --claim-pr https://github.com/acme/widgets/pull/142 --no-takeover --json',
  ];
  static override flags = {
    project: Flags.string({ description: 'project id', required: true }),
    branch: Flags.string({ description: 'branch of the worktree (default ao/<session-id>/root)' }),
    'claim-pr': Flags.string({ description: 'claim this PR for the new session' }),
    takeover: Flags.boolean({ description: 'with --claim-pr: take the PR from an active owner (--no-takeover refuses)', default: true, allowNo: true }),
    wait: Flags.boolean({ description: 'wait for the claim (--no-wait prints the job id)', default: true, allowNo: true }),
    timeout: Flags.integer({ description: 'seconds to wait for the claim (the job goes on)', default: 300, min: 1 }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Spawn);
    const ref = flags['claim-pr'];
    if (!flags.takeover && ref === undefined) throw new CliFailure('USAGE', '--no-takeover requires --claim-pr', EXIT.usage);
    const api = this.api();
    let pr: string | undefined;
    if (ref !== undefined) {
      const { body: project } = await api.request('GET', `/api/v1/projects/${encodeURIComponent(flags.project)}`, { schema: Project });
      pr = await resolveRefForProject(ref, project); // a bad ref fails here, before anything exists
    }

    const { body: session } = await api.request('POST', '/api/v1/sessions', {
      body: { projectId: flags.project, ...(flags.branch ? { branch: flags.branch } : {}), ...(pr ? { provisional: true } : {}) },
      schema: Session,
    });
    this.say(`spawned session ${session.id} on ${session.branch}`);
    this.say(`workspace: ${session.workspacePath}`);
    if (!pr) return session;

    let accepted: z.infer<typeof Accepted>;
    try {
      ({ body: accepted } = await api.request('POST', `/api/v1/sessions/${encodeURIComponent(session.id)}/pr/claim`, {
        body: { pr, allowTakeover: flags.takeover },
        headers: { 'idempotency-key': `spawn-${PendingClaims.requestKey(session.id, pr, flags.takeover)}` },
        schema: Accepted,
      }));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // refused before any job existed: the server will not compensate, so this command does
      try {
        await api.request('DELETE', `/api/v1/sessions/${encodeURIComponent(session.id)}?force=true`);
      } catch (removal) {
        throw new CliFailure(err.code, `failed to claim PR ${ref}: ${err.message}; removing session ${session.id} failed too (${removal instanceof Error ? removal.message : String(removal)}): remove it with \`ao session rm ${session.id} --force\``, EXIT.compensationFailed, { sessionId: session.id });
      }
      throw new CliFailure(err.code, `failed to claim PR ${ref}: ${err.message}; session ${session.id} was removed`, EXIT.failure, { sessionId: session.id, ...(err.details ?? {}) });
    }
    if (!flags.wait) {
      this.say(`claim queued: job ${accepted.jobId}`);
      this.say(`status: ${api.baseUrl}${accepted.links.self}`);
      return { session, claim: accepted };
    }
    const job = await waitForJob(api, accepted.jobId, flags.timeout * 1000, { quiet: this.jsonEnabled(), label: `claiming ${pr}` });
    const details = { sessionId: session.id, jobId: job.id, ...(job.error?.details ?? {}) };
    switch (job.state) {
      case 'succeeded': {
        const result = ClaimResult.parse(job.result);
        this.say(`session ${session.id} claimed PR #${result.prs[0]?.number ?? ''}`);
        if (result.prs[0]) this.say(`pr: ${result.prs[0].url}`);
        if (result.branchChanged) this.say(`switched to ${result.branch}`);
        for (const donor of result.takenOverFrom) this.say(`taking over from ${donor}${result.donorWasTerminated ? ' (terminated)' : ''}`);
        return { session: { ...session, state: 'active', leaseExpiresAt: null }, claim: job };
      }
      case 'compensated':
        throw new CliFailure(job.error?.code ?? 'CLAIM_FAILED', `failed to claim PR ${ref}: ${job.error?.message ?? ''}; session ${session.id} was removed`, EXIT.failure, details);
      case 'compensation_failed':
        throw new CliFailure(
          job.error?.code ?? 'CLAIM_FAILED',
          `failed to claim PR ${ref}: ${job.error?.message ?? ''}; removing session ${session.id} failed too (${String(job.error?.details?.compensationError ?? '')}): remove it with \`ao session rm ${session.id} --force\``,
          EXIT.compensationFailed,
          details,
        );
      default:
        throw new CliFailure(
          'WAIT_TIMEOUT',
          `the claim of ${ref} for session ${session.id} is still ${job.state}; it goes on (\`ao job wait ${job.id}\`): the session stays if it succeeds, and is removed if it fails or its lease runs out`,
          EXIT.timeout,
          details,
        );
    }
  }
}
