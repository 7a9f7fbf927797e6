import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { JobKind, JobState, TERMINAL_JOB_STATES } from '../core/domain.js';
import type { GitHubBudget } from '../core/github-budget.js';
import type { ApiContext } from './context.js';
import { problemResponses } from './problem.js';

/**
 * GET /metrics in Prometheus's text format (SPEC §7, issue 15).
 *
 * Two kinds of figure:
 *  - this process's own: HTTP requests and their latency (by route pattern, method and status,
 *    /metrics itself left out), open event-stream clients, and prom-client's default process_* /
 *    nodejs_* metrics;
 *  - the deployment's, read from the shared stores when scraped (an API process runs no worker, so
 *    it counts nothing of the workers itself): jobs from Postgres, queue depths from BullMQ, the
 *    GitHub budget from the queue backend, the change log's reader lag from Postgres. Every API process reports
 *    the same values for these: aggregate them with max(), not sum().
 *
 * A scrape stays cheap on a big deployment: each store is read with at most one or two indexed
 * queries (see collectJobs, collectCdcLag), all sources at once, each given SOURCE_TIMEOUT_MS;
 * a source that fails or is too slow is left out of that scrape and `ao_metrics_source_up` says so.
 * Concurrent scrapes share one collection.
 */

export const METRICS_PATH = '/metrics';

/**
 * The finished-job figures cover the jobs whose finished_at is at most this old (a typical
 * rate() window), and at most the newest JOB_WINDOW_MAX_ROWS of them, so a scrape's cost is
 * bounded however fast jobs finish (above ~160 jobs/s the figures describe the newest 50,000).
 */
export const JOB_WINDOW_SECONDS = 300;
export const JOB_WINDOW_MAX_ROWS = 50_000;
const SOURCE_TIMEOUT_MS = 2500;
const CDC_HELD_MAX_ROWS = 10_000;
const DURATION_QUANTILES = [0.5, 0.9, 0.99, 1] as const;
const UNFINISHED_STATES = JobState.options.filter((s) => !TERMINAL_JOB_STATES.has(s));
const FINISHED_STATES = JobState.options.filter((s) => TERMINAL_JOB_STATES.has(s));

/** Open event streams per API instance (its context), for `ao_event_stream_clients`. */
const openStreams = new WeakMap<ApiContext, number>();

/** api/routes/events.ts: a stream opened; call the answer once when it ends. */
export function trackEventStream(ctx: ApiContext): () => void {
  openStreams.set(ctx, (openStreams.get(ctx) ?? 0) + 1);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    openStreams.set(ctx, (openStreams.get(ctx) ?? 1) - 1);
  };
}

/** What the scrape reads from the queue backend; without it the queue and GitHub figures are left out. */
export interface MetricsSources {
  /**
   * every queue of the deployment, the API's own handles on its fail-fast connection (the ones the
   * dashboard shows): a scrape must not wait for a store that is gone, nor open connections of its own
   */
  queues(): Promise<Array<Queue<unknown>>>;
  budget: GitHubBudget;
}

interface JobRow {
  part: 'unfinished' | 'finished';
  kind: string;
  state: string;
  n: number;
  quantiles: number[] | null;
}

interface QueueFigures {
  name: string;
  counts: Record<string, number>;
  oldestWaitingAgeSeconds: number;
}

interface GitHubFigures {
  window: { limit: number; remaining: number; resetAt: string } | null;
  usage: { requests: number; points: number };
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * The metrics plugin. It is encapsulated in what it owns (its registry, its queue handles, its
 * route), but its request hooks must see every route, so fastify registers it without a scope of
 * its own (skip-override, as fastify-plugin does): register it before the routes.
 */
export function metricsPlugin(ctx: ApiContext): FastifyPluginAsyncZod {
  const plugin: FastifyPluginAsyncZod = async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const registers = [registry];

    // ---- this process: HTTP and event streams
    const httpLabels = ['method', 'route', 'status'] as const;
    const httpRequests = new Counter({
      name: 'ao_http_requests_total',
      help: 'HTTP requests answered by this API process, by method, route pattern and status (not /metrics)',
      labelNames: httpLabels,
      registers,
    });
    const httpDuration = new Histogram({
      name: 'ao_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to answering it, by method, route pattern and status (an event stream: its whole life)',
      labelNames: httpLabels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url;
      if (route !== METRICS_PATH) {
        // the pattern (/api/v1/jobs/:id), never the URL; a request no route matched is "unmatched"
        const labels = { method: request.method, route: route ?? 'unmatched', status: String(reply.statusCode) };
        httpRequests.inc(labels);
        httpDuration.observe(labels, reply.elapsedTime / 1000);
      }
      done();
    });
    new Gauge({
      name: 'ao_event_stream_clients',
      help: 'Event-stream (SSE) clients connected to this API process now',
      registers,
      collect() {
        this.set(openStreams.get(ctx) ?? 0);
      },
    });

    // ---- the deployment: read from the shared stores at scrape time
    const sourceUp = new Gauge({
      name: 'ao_metrics_source_up',
      help: 'Whether this scrape could read a source (jobs, queues, github, cdc): 1 yes, 0 no (its metrics are left out)',
      labelNames: ['source'],
      registers,
    });
    const jobsUnfinished = new Gauge({
      name: 'ao_jobs_unfinished',
      help: 'Jobs not finished now, by kind and state (queued, running, compensating)',
      labelNames: ['kind', 'state'],
      registers,
    });
    const jobsFinished = new Gauge({
      name: 'ao_jobs_finished',
      help: `Jobs that finished in the last ${JOB_WINDOW_SECONDS} s (at most the newest ${JOB_WINDOW_MAX_ROWS}), by kind and outcome (the terminal state)`,
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const jobDuration = new Gauge({
      name: 'ao_job_duration_seconds',
      help: `Creation to finish of the jobs that finished in the last ${JOB_WINDOW_SECONDS} s, by kind and outcome: quantiles (1: the longest)`,
      labelNames: ['kind', 'outcome', 'quantile'],
      registers,
    });
    const queueJobs = new Gauge({
      name: 'ao_queue_jobs',
      help: `BullMQ jobs per queue and state (${QUEUE_STATES.join(', ')}); the depth is waiting + prioritized`,
      labelNames: ['queue', 'state'],
      registers,
    });
    const queueOldest = new Gauge({
      name: 'ao_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest waiting job of each queue (since it was added); 0 when none waits',
      labelNames: ['queue'],
      registers,
    });
    const githubLimit = new Gauge({ name: 'ao_github_rate_limit', help: "GitHub's primary rate limit (points per window), as its last answer said", registers });
    const githubRemaining = new Gauge({
      name: 'ao_github_rate_limit_remaining',
      help: 'Points left in the current GitHub window, as the shared budget knows it',
      registers,
    });
    const githubReset = new Gauge({
      name: 'ao_github_rate_limit_reset_timestamp_seconds',
      help: "When GitHub's current window resets (Unix seconds)",
      registers,
    });
    const githubRequests = new Counter({
      name: 'ao_github_requests_total',
      help: 'GitHub answers that reported a rate-limit window, over every worker (kept in the shared budget)',
      registers,
    });
    const githubPoints = new Counter({
      name: 'ao_github_points_spent_total',
      help: 'GitHub rate-limit points those answers cost, over every worker',
      registers,
    });
    const cdcLag = new Gauge({
      name: 'ao_cdc_reader_lag_seconds',
      help: 'How long the oldest committed change readers cannot read yet (held back by the horizon) has waited; 0 when they can read every committed change',
      registers,
    });

    const budget = ctx.metrics?.budget ?? null;

    async function collectQueues(sources: MetricsSources): Promise<QueueFigures[]> {
      const now = Date.now();
      return Promise.all(
        (await sources.queues()).map(async (queue) => {
          const { name } = queue;
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          // the last of the waiting list newest first: BullMQ's Postgres backend reads a one-job
          // range newest first whatever `asc` says, so only this form means the oldest on both
          const waiting = counts.waiting ?? 0;
          const oldest = waiting > 0 ? await queue.getJobs(['waiting'], waiting - 1, waiting - 1, false) : [];
          const added = oldest[0]?.timestamp;
          return { name, counts, oldestWaitingAgeSeconds: added ? Math.max(0, (now - added) / 1000) : 0 };
        }),
      );
    }

    /**
     * One query. Unfinished jobs are all counted: the partial index jobs_unfinished holds only
     * them. Finished jobs are counted, and their durations summarised, over a recent window only
     * (the index jobs_finished, newest first, at most JOB_WINDOW_MAX_ROWS): the whole table grows
     * with retention, and a count over it would make a scrape's cost grow with it. A window gives "what finished lately, how long it took"
     * at a cost bound by the throughput; quantiles are computed by Postgres over the window's rows,
     * so no observation is kept in any process (a histogram would need a worker in this process).
     */
    async function collectJobs(): Promise<JobRow[]> {
      return ctx.db<JobRow[]>`
        select 'unfinished' as part, kind, state, count(*)::int as n, null::float8[] as quantiles
        from ao.jobs where state in ('queued', 'running', 'compensating') group by kind, state
        union all
        select 'finished', kind, state, count(*)::int,
          percentile_cont(array[0.5, 0.9, 0.99, 1]::float8[]) within group (order by d) -- DURATION_QUANTILES
        from (
          select kind, state, extract(epoch from finished_at - created_at)::float8 as d from ao.jobs
          where finished_at > now() - make_interval(secs => ${JOB_WINDOW_SECONDS})
          order by finished_at desc limit ${JOB_WINDOW_MAX_ROWS}
        ) recent
        group by kind, state`;
    }

    /**
     * The change log's reader lag. Readers see only changes below the horizon
     * (ao.change_log_horizon: no running transaction of the database is under it), so a committed
     * change at or above it waits for every older transaction to end. The lag is now() minus the
     * created_at (its transaction's start) of the oldest committed change with tx_id >= horizon:
     * how far behind the newest committed changes a reader that is caught up is held; 0 when none
     * is held back. The horizon is taken first (an init plan), then the primary key's range above
     * it, in key order and at most CDC_HELD_MAX_ROWS rows (the oldest transactions come first), so
     * the cost does not grow with the log: a plain min(created_at) would walk the created_at index
     * through every change below the horizon.
     */
    async function collectCdcLag(): Promise<number> {
      const [row] = await ctx.db<[{ lag: number }]>`
        select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as lag
        from (
          select created_at from ao.change_log where tx_id >= (select ao.change_log_horizon())
          order by tx_id, id limit ${CDC_HELD_MAX_ROWS}
        ) held`;
      return Math.max(0, row.lag);
    }

    async function collectGitHub(source: NonNullable<typeof budget>): Promise<GitHubFigures> {
      const [window, usage] = await Promise.all([source.read(), source.usage()]);
      return { window, usage };
    }

    /** a source's figures, or null when it failed or took too long */
    async function within<T>(work: () => Promise<T>): Promise<T | null> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), SOURCE_TIMEOUT_MS);
      });
      try {
        return await Promise.race([work().catch(() => null), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }

    /**
     * Reads every source, then sets every gauge at once (no await in between), so a scrape never
     * renders a gauge half-reset by another.
     */
    async function collect(): Promise<void> {
      const sources = ctx.metrics;
      const [jobs, queueFigures, github, lag] = await Promise.all([
        within(collectJobs),
        sources ? within(() => collectQueues(sources)) : null,
        budget ? within(() => collectGitHub(budget)) : null,
        within(collectCdcLag),
      ]);

      sourceUp.set({ source: 'jobs' }, jobs ? 1 : 0);
      jobsUnfinished.reset();
      jobsFinished.reset();
      jobDuration.reset();
      if (jobs) {
        // every kind and state, so a state that empties reads 0 rather than vanishing
        for (const kind of JobKind.options) {
          for (const state of UNFINISHED_STATES) jobsUnfinished.set({ kind, state }, 0);
          for (const outcome of FINISHED_STATES) jobsFinished.set({ kind, outcome }, 0);
        }
        for (const row of jobs) {
          if (row.part === 'unfinished') {
            jobsUnfinished.set({ kind: row.kind, state: row.state }, row.n);
            continue;
          }
          const labels = { kind: row.kind, outcome: row.state };
          jobsFinished.set(labels, row.n);
          DURATION_QUANTILES.forEach((q, i) => jobDuration.set({ ...labels, quantile: String(q) }, row.quantiles?.[i] ?? 0));
        }
      }

      queueJobs.reset();
      queueOldest.reset();
      if (sources) sourceUp.set({ source: 'queues' }, queueFigures ? 1 : 0);
      for (const queue of queueFigures ?? []) {
        for (const state of QUEUE_STATES) queueJobs.set({ queue: queue.name, state }, queue.counts[state] ?? 0);
        queueOldest.set({ queue: queue.name }, queue.oldestWaitingAgeSeconds);
      }

      githubLimit.reset();
      githubRemaining.reset();
      githubReset.reset();
      githubRequests.reset();
      githubPoints.reset();
      if (budget) sourceUp.set({ source: 'github' }, github ? 1 : 0);
      if (github) {
        githubRequests.inc(github.usage.requests);
        githubPoints.inc(github.usage.points);
        // nothing known until a worker has had an answer from GitHub: the window's gauges stay absent
        if (github.window) {
          githubLimit.set(github.window.limit);
          githubRemaining.set(github.window.remaining);
          githubReset.set(Date.parse(github.window.resetAt) / 1000);
        }
      }

      sourceUp.set({ source: 'cdc' }, lag === null ? 0 : 1);
      cdcLag.reset();
      if (lag !== null) cdcLag.set(lag);
    }

    let collecting: Promise<void> | null = null;
    const collectOnce = (): Promise<void> => {
      collecting ??= collect().finally(() => {
        collecting = null;
      });
      return collecting;
    };

    app.get(
      METRICS_PATH,
      {
        schema: {
          operationId: 'metrics',
          tags: ['health'],
          summary: "Prometheus metrics (text format 0.0.4): HTTP, jobs, queues, GitHub's budget, change-log lag, event-stream clients",
          produces: [registry.contentType],
          response: { 200: z.string().describe('Prometheus text exposition format'), ...problemResponses() },
        },
      },
      async (_request, reply) => {
        await collectOnce();
        // a non-JSON content type: fastify sends the text as it is, without the JSON serializer
        return reply.type(registry.contentType).send(await registry.metrics());
      },
    );
  };
  return skipOverride(plugin);
}

/** What fastify-plugin does: the plugin's hooks and routes belong to the instance that registers it. */
function skipOverride<T extends (app: FastifyInstance, ...rest: never[]) => unknown>(plugin: T): T {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
