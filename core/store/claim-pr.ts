import { jsonb, type Db } from '../db/connect.js';
import type { ClaimResult, PrSnapshot } from '../domain.js';
import { AoError, isErrorCode, type ErrorDetails } from '../errors.js';

export interface ClaimInput {
  /** the job this claim completes; null when the store is driven directly */
  jobId: string | null;
  sessionId: string;
  /** absent or null means true (SPEC §3) */
  allowTakeover: boolean | null;
  snapshot: PrSnapshot;
}

export interface ClaimOutcome {
  result: ClaimResult;
  /** the owner before this claim (the claimant itself on a refresh); null for a new PR */
  previousOwner: string | null;
  /** the job had already succeeded: its stored result is returned and nothing was written */
  replayed: boolean;
}

type ClaimReply =
  | { ok: true; result: ClaimResult; previousOwner?: string | null; replayed?: boolean }
  | { ok: false; error: { code: string; message: string; details: ErrorDetails | null } };

/**
 * The claim transaction (SPEC §3.3): one statement, one round trip. `ao.claim_pr` re-checks the
 * claimant, serialises on the PR, applies the owner guard, writes the whole snapshot and, with a
 * job id, completes the job in the same transaction. A refusal writes nothing and is thrown as
 * an AoError with the function's code.
 */
export async function claimPr(db: Db, input: ClaimInput): Promise<ClaimOutcome> {
  const [row] = await db<[{ reply: ClaimReply }]>`
    select ao.claim_pr(${input.jobId}, ${input.sessionId}, ${input.allowTakeover},
      ${jsonb(db, input.snapshot)}) as reply`;
  const reply = row.reply;
  if (!reply.ok) {
    const { code, message, details } = reply.error;
    throw new AoError(isErrorCode(code) ? code : 'INTERNAL_ERROR', message, details);
  }
  return { result: reply.result, previousOwner: reply.previousOwner ?? null, replayed: reply.replayed ?? false };
}
