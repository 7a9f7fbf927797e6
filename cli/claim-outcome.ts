import { ClaimResult } from '../core/domain.js';
import { CliFailure, EXIT } from './base-command.js';
import { isFinished, type CliJob } from './wait-for-job.js';

/**
 * What a claim job, as last seen by `session claim-pr` or `spawn --claim-pr`, means for the CLI:
 * the lines to print when it succeeded, otherwise the failure to throw (its code, message, exit
 * code and details). `finished` says whether the job can still change (false only for a wait that
 * timed out). One place for every job state, so both commands tell the same story.
 */
export type ClaimOutcome =
  | { ok: true; finished: true; result: ClaimResult; lines: string[] }
  | { ok: false; finished: boolean; failure: CliFailure };

export interface ClaimContext {
  /** the session the claim is for */
  sessionId: string;
  /** the PR as the user should read it (the ref given, or its URL) */
  pr: string;
  /** running the same command again attaches to the same job (claim-pr; not spawn, which would spawn anew) */
  rerunAttaches: boolean;
}

/** How `details.sessionRemoved` of a compensated claim reads in a sentence. */
function removal(sessionId: string, details: Record<string, unknown>): string {
  if (details.sessionRemoved === true) return `the provisional session ${sessionId} was removed`;
  if (details.sessionRemoved === false) {
    // the session exists and is a real one now: another claim activated it (worker/claim-processor.ts)
    return `session ${sessionId} was not removed: another claim made it a real session meanwhile`;
  }
  return `whether the provisional session ${sessionId} was removed is not known: check \`ao session show ${sessionId}\``;
}

export function describeClaimJob(job: CliJob, context: ClaimContext): ClaimOutcome {
  const { sessionId, pr, rerunAttaches } = context;
  const error = job.error;
  const details: Record<string, unknown> = { ...(error?.details ?? {}), sessionId, jobId: job.id };
  const why = `${error?.message ?? 'no reason given'} (job ${job.id})`;
  const provisional = job.kind === 'spawn_claim';
  const fail = (code: string, message: string, exit: number = EXIT.failure): ClaimOutcome => ({
    ok: false,
    finished: isFinished(job.state),
    failure: new CliFailure(code, message, exit, details),
  });
  const state: string = job.state; // a plain string, so states core may not list yet are handled too
  switch (state) {
    case 'succeeded': {
      const result = ClaimResult.parse(job.result);
      const claimed = result.prs[0];
      const lines = [`session ${sessionId} claimed PR${claimed ? ` #${claimed.number}` : ''}`];
      if (claimed) lines.push(`pr: ${claimed.url}`);
      if (result.branchChanged) lines.push(`switched to ${result.branch}`);
      if (result.pushTarget && result.pushTarget !== 'origin') lines.push(`pushes go to the fork ${result.pushTarget}`);
      if (result.pushTarget === null) lines.push("read-only: the PR's fork does not let maintainers push to its branch");
      for (const donor of result.takenOverFrom) lines.push(`taking over from ${donor}${result.donorWasTerminated ? ' (terminated)' : ''}`);
      return { ok: true, finished: true, result, lines };
    }
    case 'failed':
      return fail(
        error?.code ?? 'CLAIM_FAILED',
        `failed to claim PR ${pr} for session ${sessionId}: ${why}${
          provisional ? `; the provisional session stays until its lease runs out (or \`ao session rm ${sessionId} --force\`)` : ''
        }`,
      );
    case 'compensated':
      return fail(error?.code ?? 'CLAIM_FAILED', `failed to claim PR ${pr}: ${why}; ${removal(sessionId, details)}`);
    case 'compensation_failed': {
      const cause = typeof details.compensationError === 'string' ? ` (${details.compensationError})` : '';
      return fail(
        error?.code ?? 'CLAIM_FAILED',
        `failed to claim PR ${pr}: ${why}; removing session ${sessionId} failed too${cause}: remove it with \`ao session rm ${sessionId} --force\``,
        EXIT.compensationFailed,
      );
    }
    case 'cancelled':
      return fail(
        error?.code ?? 'JOB_CANCELLED',
        `the claim of PR ${pr} for session ${sessionId} was cancelled (job ${job.id})${
          provisional ? `; the provisional session stays until its lease runs out (or \`ao session rm ${sessionId} --force\`)` : ''
        }`,
      );
    default:
      // queued, running, compensating: the wait timed out, the job goes on
      return fail(
        'WAIT_TIMEOUT',
        `the claim of PR ${pr} for session ${sessionId} is still ${state} after the timeout; it goes on: \`ao job wait ${job.id}\`${rerunAttaches ? ' (or run this command again)' : ''}${
          provisional ? '. The session stays if the claim succeeds, and is removed if it fails or its lease runs out' : ''
        }`,
        EXIT.timeout,
      );
  }
}
