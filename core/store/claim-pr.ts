import { jsonb, type Db } from '../db/connect.js';
import type { PrSnapshot, StoredClaimResult } from '../domain.js';
import { AoError, isErrorCode, type ErrorDetails } from '../errors.js';

export interface ClaimInput {
  /** the job run this claim completes; null when the store is driven directly */
  run: { jobId: string; run: number } | null;
  sessionId: string;
  /** absent or null means true (SPEC §3) */
  allowTakeover: boolean | null;
  snapshot: PrSnapshot;
  /** what the worker's checkout did to the session's worktree (absent: no checkout took part) */
  checkout?: {
    branch: string;
    branchChanged: boolean;
    pushTarget: string | null;
    donorMoved: { sessionId: string; branch: string } | null;
  } | null;
}

export interface ClaimOutcome {
  result: StoredClaimResult;
  /** the owner before this claim (the claimant itself on a refresh); null for a new PR */
  previousOwner: string | null;
}

/** The run lost its fence (another run took the job over): the claim wrote nothing. */
export class FenceLost extends Error {
  override name = 'FenceLost';
  constructor(
    readonly jobId: string,
    readonly run: number,
  ) {
    super(`run ${run} of job ${jobId} lost its fence; another run owns the job`);
  }
}

type ClaimReply =
  | { ok: true; result: StoredClaimResult; previousOwner?: string | null }
  | { ok: false; fenced: true }
  | { ok: false; fenced?: undefined; error: { code: string; message: string; details: ErrorDetails | null } };

/**
 * The claim transaction (SPEC §3.3): one statement, one round trip. `ao.claim_pr` checks the
 * run's fence, re-checks the claimant, serialises on the PR, applies the owner guard, writes the
 * whole snapshot and, for a job run, completes the job in the same transaction. A refusal writes
 * nothing and is thrown as an AoError with the function's code; a lost fence as FenceLost.
 */
export async function claimPr(db: Db, input: ClaimInput): Promise<ClaimOutcome> {
  const [row] = await db<[{ reply: ClaimReply }]>`
    select ao.claim_pr(${input.run?.jobId ?? null}, ${input.run?.run ?? null}::integer, ${input.sessionId},
      ${input.allowTakeover}, ${jsonb(db, input.snapshot)}, ${input.checkout ? jsonb(db, input.checkout) : null}) as reply`;
  const reply = row.reply;
  if (!reply.ok) {
    if (reply.fenced) throw new FenceLost(input.run?.jobId ?? '', input.run?.run ?? 0);
    const { code, message, details } = reply.error;
    throw new AoError(isErrorCode(code) ? code : 'INTERNAL_ERROR', message, details);
  }
  return { result: reply.result, previousOwner: reply.previousOwner ?? null };
}
