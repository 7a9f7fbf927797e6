import type { Pool } from '../core/db/connect.js';
import type { JobWaiter } from './job-waiter.js';

/** What the HTTP layer needs from the rest of ao; built once per process (api/server.ts). */
export interface ApiContext {
  db: Pool;
  /** worktrees live under `<dataDir>/worktrees/<project>/<session>` */
  dataDir: string;
  /** this process's host (core/host-id.ts), recorded on the sessions it creates */
  hostId: string;
  /** how long a provisional session lives unless a claim activates it */
  provisionalLeaseSeconds: number;
  /** when set, every route but health requires `Authorization: Bearer <token>` */
  apiToken: string | null;
  queue: {
    /** hands a committed job to the claim queue of the host that holds the session's worktree */
    enqueueClaim(jobId: string, hostId: string): Promise<void>;
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
}
