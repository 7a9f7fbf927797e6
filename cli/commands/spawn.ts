import { Flags } from '@oclif/core';
import { z } from 'zod';
import { Project, Session } from '../../core/domain.js';
import { ApiError } from '../api-client.js';
import { AoCommand, CliFailure, EXIT, EXIT_HELP } from '../base-command.js';
import { describeClaimJob } from '../claim-outcome.js';
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
      let sessionRemoved = true;
      try {
        await api.request('DELETE', `/api/v1/sessions/${encodeURIComponent(session.id)}?force=true`);
      } catch (removal) {
        if (!(removal instanceof ApiError && removal.code === 'SESSION_NOT_FOUND')) {
          throw new CliFailure(
            err.code,
            `failed to claim PR ${ref}: ${err.message}; removing session ${session.id} failed too (${removal instanceof Error ? removal.message : String(removal)}): remove it with \`ao session rm ${session.id} --force\``,
            EXIT.compensationFailed,
            { ...(err.details ?? {}), sessionId: session.id },
          );
        }
        sessionRemoved = false; // someone else removed it first
      }
      throw new CliFailure(
        err.code,
        `failed to claim PR ${ref}: ${err.message}; session ${session.id} ${sessionRemoved ? 'was removed' : 'was already gone'}`,
        EXIT.failure,
        { ...(err.details ?? {}), sessionId: session.id, sessionRemoved },
      );
    }
    if (!flags.wait) {
      this.say(`claim queued: job ${accepted.jobId}`);
      this.say(`status: ${api.baseUrl}${accepted.links.self}`);
      return { session, claim: accepted };
    }
    const job = await waitForJob(api, accepted.jobId, flags.timeout * 1000, { quiet: this.jsonEnabled(), label: `claiming ${pr}` });
    const outcome = describeClaimJob(job, { sessionId: session.id, pr: ref ?? pr, rerunAttaches: false });
    if (!outcome.ok) throw outcome.failure;
    for (const line of outcome.lines) this.say(line);
    return { session: { ...session, state: 'active', leaseExpiresAt: null }, claim: job };
  }
}
