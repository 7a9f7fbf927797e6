import type { JobsOptions, Queue } from 'bullmq';
import { z } from 'zod';
import type { QueueConnection } from './queue.js';

/**
 * Git work the API needs done on a host's disk (SPEC §2 "Host", issue 13): the API runs no git
 * itself; it hands each operation to the queue of the host that holds the checkout, and a worker
 * of that host answers. Claims have queues of their own (core/queue.ts): a slow GitHub never holds
 * up a session's creation.
 */
export function hostWorkQueueName(hostId: string): string {
  return `host-${hostId}`;
}

export const HostWork = z.discriminatedUnion('op', [
  /** what ao needs to know about a checkout being registered as a project (worker/workspace/inspect-checkout.ts) */
  z.object({ op: z.literal('inspect-checkout'), path: z.string() }),
  /** the worktree of a provisional session whose row the API has just inserted */
  z.object({ op: z.literal('create-worktree'), sessionId: z.string() }),
  /** a session's worktree, its root branch, and then its row */
  z.object({ op: z.literal('remove-session'), sessionId: z.string(), force: z.boolean() }),
]);
export type HostWork = z.infer<typeof HostWork>;

export const CheckoutFacts = z.object({ root: z.string(), originUrl: z.string().nullable(), defaultBranch: z.string() });
export type CheckoutFacts = z.infer<typeof CheckoutFacts>;

/** A worker's answer: the operation's value, or the AoError it ended with (already undone on disk). */
export const HostWorkAnswer = z.union([
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).nullable() }),
  }),
]);
export type HostWorkAnswer = z.infer<typeof HostWorkAnswer>;

/**
 * One delivery only: an operation whose worker died is not run again behind its caller's back (the
 * caller has answered by then); what it left half-made belongs to a provisional session, which the
 * host's janitor removes whole.
 */
export const HOST_WORK_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 3600, count: 1000 },
};

export function hostWorkQueue(connection: QueueConnection, hostId: string): Queue<HostWork> {
  return connection.queue<HostWork>(hostWorkQueueName(hostId), HOST_WORK_OPTIONS);
}

/** Host work answers ride on the job-signal channel (core/queue.ts) under this prefix. */
export const HOST_WORK_SIGNAL = 'host-work:';
