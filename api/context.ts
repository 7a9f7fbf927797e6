import type { Pool } from '../core/db/connect.js';
import type { JobWaiter } from './job-waiter.js';

/** What the HTTP layer needs from the rest of ao; built once per process (api/server.ts). */
export interface ApiContext {
  db: Pool;
  /** worktrees live under `<dataDir>/worktrees/<project>/<session>` */
  dataDir: string;
  /** recorded on the sessions this process creates */
  hostName: string;
  /** how long a provisional session lives unless a claim activates it */
  provisionalLeaseSeconds: number;
  /** when set, every route but health requires `Authorization: Bearer <token>` */
  apiToken: string | null;
  queue: {
    enqueueClaim(jobId: string): Promise<void>;
    ping(): Promise<void>;
  };
  waiter: JobWaiter;
}
