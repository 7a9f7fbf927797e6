import type { Pool } from '../core/db/connect.js';
import type { Queue } from 'bullmq';
import type { HostWork } from '../core/host-work.js';
import type { QueueBackendName } from '../core/config.js';
import type { JobWaiter } from './job-waiter.js';
import type { MetricsSources } from './metrics.js';

/** What the HTTP layer needs from the rest of ao; built once per process (api/server.ts). */
export interface ApiContext {
  db: Pool;
  /** this process's host (core/host-id.ts): projects registered here have their checkout on it */
  hostId: string;
  /** git work on a host's disk, done by a worker of that host (api/host-work-client.ts) */
  hostWork: { run(hostId: string, work: HostWork): Promise<unknown> };
  /** GitHub's budget as the workers recorded it in the coordination store (null before any answer) */
  githubBudget(): Promise<{ limit: number; remaining: number; resetAt: string } | null>;
  /** every BullMQ queue of the deployment as it stands (for the dashboard at /admin/queues) */
  queues?: () => Promise<Array<Queue<unknown>>>;
  /** whether a worker of the host has been seen lately (cached for a second or two) */
  hostAlive(hostId: string): Promise<boolean>;
  /** how long a provisional session lives unless a claim activates it */
  provisionalLeaseSeconds: number;
  /** when set, every route but health requires `Authorization: Bearer <token>` */
  apiToken: string | null;
  queue: {
    /** hands a committed job to the claim queue of the host that holds the session's worktree */
    enqueueClaim(jobId: string, hostId: string): Promise<void>;
    /** hands a committed batch re-claim to the one re-claim queue */
    enqueueReclaim(jobId: string): Promise<void>;
    /** which store carries the queues (GET /status) */
    backend: QueueBackendName;
    /** false when the queue is known to be unreachable right now (nothing should be accepted) */
    available(): boolean;
    ping(): Promise<void>;
  };
  /** a committed job could not be handed to the queue now (the sweeper will); for the log */
  onEnqueueFailed?: (jobId: string, err: unknown) => void;
  waiter: JobWaiter;
  /**
   * How long an event-stream client may leave the server's socket buffer full before it is
   * disconnected (it resumes with Last-Event-ID); default DEFAULT_SSE_SLOW_CLIENT_MS (30 s).
   */
  sseSlowClientMs?: number;
  /** what GET /metrics reads from the queue backend (queue depths, GitHub's budget); none: those are left out */
  metrics?: MetricsSources;
}
