import { Args, Flags } from '@oclif/core';
import { z } from 'zod';
import { Project, Session } from '../../../core/domain.js';
import { loadClientConfig } from '../../../core/config.js';
import { parsePrRef } from '../../../core/pr-ref.js';
import { AoCommand, CliFailure, EXIT, EXIT_HELP } from '../../base-command.js';
import { describeClaimJob } from '../../claim-outcome.js';
import { PendingClaims, resolveRefForProject } from '../../claim-support.js';
import { waitForJob } from '../../wait-for-job.js';

const Accepted = z.object({ jobId: z.string(), state: z.string(), links: z.object({ self: z.string() }) });

const looksLikePr = (value: string) => {
  try {
    parsePrRef(value);
    return true;
  } catch {
    return false;
  }
};

export default class SessionClaimPr extends AoCommand {
  static override summary = 'Claim an existing pull request for a session';
  static override description = `The claim runs as a job: ao waits for it by default and prints the result. The session may be omitted when AO_SESSION_ID is set, and the PR may come first.
PR refs: 142, #142, owner/repo#142, https://github.com/owner/repo/pull/142.
On a provisional session (one spawned for a claim) a failed claim removes the session: exit 1, and the message says whether it was removed; if removing it fails, exit 4 (remove it with \`ao session rm <id> --force\`).
${EXIT_HELP}`;
  static override examples = [
    '<%= config.bin %> session claim-pr mer-3 142',
    '<%= config.bin %> session claim-pr mer-3 https://github.com/acme/widgets/pull/142 --no-takeover',
    'AO_SESSION_ID=mer-3 <%= config.bin %> session claim-pr 142',
    '<%= config.bin %> session claim-pr mer-3 142 --no-wait --json',
  ];
  static override args = {
    // named for the usual order; which is which is told apart in run() (the PR may come first, and
    // with AO_SESSION_ID set the one argument given is the PR)
    session: Args.string({ description: 'session id (omit it when AO_SESSION_ID is set: then the one argument is the PR)', required: true }),
    pr: Args.string({ description: 'PR ref: 142, #142, owner/repo#142 or a PR URL (it may also come first, before the session)', required: false }),
  };
  static override flags = {
    project: Flags.string({ char: 'p', description: 'refuse unless the session belongs to this project' }),
    takeover: Flags.boolean({ description: 'take the PR from an active owner (--no-takeover refuses instead)', default: true, allowNo: true }),
    wait: Flags.boolean({ description: 'wait for the claim to finish (--no-wait prints the job id)', default: true, allowNo: true }),
    timeout: Flags.integer({ description: 'seconds to wait before giving up (the job goes on)', default: 300, min: 1 }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(SessionClaimPr);
    let sessionId: string | undefined;
    let ref: string;
    if (args.pr === undefined) {
      ref = args.session;
      sessionId = process.env.AO_SESSION_ID?.trim() || undefined;
      if (!sessionId) throw new CliFailure('USAGE', 'session id is required (pass <session-id> <pr-ref> or set AO_SESSION_ID)', EXIT.usage);
    } else if (looksLikePr(args.session) && !looksLikePr(args.pr)) {
      [ref, sessionId] = [args.session, args.pr];
    } else {
      [sessionId, ref] = [args.session, args.pr];
    }

    const api = this.api();
    const { body: session } = await api.request('GET', `/api/v1/sessions/${encodeURIComponent(sessionId)}`, { schema: Session });
    if (flags.project && session.projectId !== flags.project) {
      throw new CliFailure('USAGE', `session ${session.id} is not in project ${flags.project}`, EXIT.usage);
    }
    const { body: project } = await api.request('GET', `/api/v1/projects/${encodeURIComponent(session.projectId)}`, { schema: Project });
    const pr = await resolveRefForProject(ref, project);

    const pending = PendingClaims.at(loadClientConfig().dataDir);
    const request = PendingClaims.requestKey(session.id, pr, flags.takeover);
    const key = await pending.keyFor(request);
    const { body: accepted } = await api.request('POST', `/api/v1/sessions/${encodeURIComponent(session.id)}/pr/claim`, {
      body: { pr, allowTakeover: flags.takeover },
      headers: { 'idempotency-key': key },
      schema: Accepted,
    });
    await pending.remember(request, key);

    if (!flags.wait) {
      this.say(`claim queued: job ${accepted.jobId}`);
      this.say(`status: ${api.baseUrl}${accepted.links.self}`);
      return accepted;
    }
    const job = await waitForJob(api, accepted.jobId, flags.timeout * 1000, { quiet: this.jsonEnabled(), label: `claiming ${pr}` });
    const outcome = describeClaimJob(job, { sessionId: session.id, pr, rerunAttaches: true });
    if (outcome.finished) await pending.forget(request); // a new run makes a new claim
    if (!outcome.ok) throw outcome.failure;
    for (const line of outcome.lines) this.say(line);
    return job;
  }
}
