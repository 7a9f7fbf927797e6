/**
 * The GitHub stand-in of the bench, run as a child process (forked with an IPC channel) so its
 * CPU is accounted apart from ao's and from the load generators'.
 *
 * Behind it is ao's test fake (test/fake-github): a real GraphQL server that validates every
 * query against GitHub's published schema. That validation costs ~4-6 ms of CPU per request, and
 * the fake rebuilds the objects of every PR it holds on each request (O(PRs)), which on a 2-core
 * machine would make the fake, not ao, the bottleneck. So this stub answers "at once":
 *
 *  - the PRs are spread over several fake instances (`shardSize` each, routed by PR number), so
 *    no instance holds many;
 *  - every distinct request (authorization + body) is sent to the fake once, and its answer
 *    (status, content-type, rate-limit headers, body) is replayed for every identical request
 *    after that. The PRs never change during a bench, so a replayed answer is exactly what the
 *    fake would say (its rate-limit numbers aside). The cache is filled before any measurement
 *    by fetching every PR once with ao's own GitHub client (worker/github/client.ts), so the
 *    request bodies are byte-for-byte the ones the worker sends;
 *  - every answer can be delayed by `baseMs ± jitterMs` (uniform, per request), which
 *    test/fake-github's setDelay (one fixed delay for all) cannot do.
 *
 * Batch mode (`batch`, the re-claim phase): the cache is warmed with ao's client's
 * fetchPullRequests, one call per chunk of the worker's re-claim, the chunks given in the order
 * and composition the worker will send them (the bench reads the order from Postgres), so each
 * aliased request is cached byte for byte. A batch request is routed by its first PR (`p0`):
 * every fake instance holds whole chunks, so that one instance can answer all of a request's
 * aliases. The warm-up's snapshots are written to a file for the bench to seed ao's store with.
 *
 * IPC: → {type:'config', config} (first: a batch config is too big for argv) | {type:'delay', baseMs, jitterMs} | {type:'stats'};
 *      ← {type:'ready', ...} | {type:'stats', ...} | {type:'ok'}
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
import { createGitHubClient, type PullRequestRef } from '../../worker/github/client.js';
import type { PrSnapshot } from '../../core/domain.js';

export interface StubConfig {
  owner: string;
  repo: string;
  /** PR numbers to serve, each warmed by one single-PR fetch (a claim's request) */
  numbers: number[];
  /** PRs per fake instance for `numbers` */
  shardSize: number;
  /** PRs of owner/repo warmed by batch fetches instead (see the header) */
  batch?: BatchConfig;
}

export interface BatchConfig {
  /** the worker's requests: PR refs exactly as it will send them, in its order */
  chunks: PullRequestRef[][];
  /** whole chunks per fake instance: a fake's CPU per request grows with the PRs it holds */
  chunksPerFake: number;
  /** the points of every batch fake's window (one window shared by all of them: same limit, same reset) */
  limit: number;
  /** one JSON line per PR (its PrSnapshot), in chunk order */
  snapshotsPath: string;
}

export interface StubCounts {
  requests: number;
  hits: number;
  misses: number;
  fakeRequests: number;
  /** the `rateLimit.cost` of every answer served (GitHub's points for the requests ao made) */
  points: number;
}

export type StubReply =
  | { type: 'ready'; url: string; token: string; warmed: number; warmMs: number; snapshot: PrSnapshot }
  | ({ type: 'stats' } & StubCounts)
  | { type: 'ok' };

export type StubCommand = { type: 'config'; config: StubConfig } | { type: 'delay'; baseMs: number; jitterMs: number } | { type: 'stats' };

interface Cached {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** the answer's rateLimit.cost (0 when it has none) */
  cost: number;
}

const costOf = (body: Buffer): number => {
  try {
    const cost = (JSON.parse(body.toString('utf8')) as { data?: { rateLimit?: { cost?: unknown } } }).data?.rateLimit?.cost;
    return typeof cost === 'number' ? cost : 0;
  } catch {
    return 0;
  }
};

async function main(): Promise<void> {
  const config = await new Promise<StubConfig>((resolve) => {
    const onConfig = (message: StubCommand) => {
      if (message.type !== 'config') return;
      process.off('message', onConfig);
      resolve(message.config);
    };
    process.on('message', onConfig);
  });
  const token = 'fake-token';
  // the fakes run in worker threads (two: one per core), each holding some shards of PRs
  const shardOf = new Map<number, number>();
  const shardList: Array<{ shard: number; numbers: number[] }> = [];
  for (const n of config.numbers) {
    const shard = Math.floor(n / config.shardSize);
    if (!shardOf.has(n)) shardOf.set(n, shard);
    const last = shardList.find((s) => s.shard === shard);
    if (last) last.numbers.push(n);
    else shardList.push({ shard, numbers: [n] });
  }
  const batch = config.batch;
  if (batch) {
    // batch shards are numbered after the single ones; a chunk never straddles two of them
    const base = shardList.reduce((max, s) => Math.max(max, s.shard + 1), 0);
    batch.chunks.forEach((chunk, k) => {
      const shard = base + Math.floor(k / batch.chunksPerFake);
      let entry = shardList.find((s) => s.shard === shard);
      if (!entry) shardList.push((entry = { shard, numbers: [] }));
      for (const ref of chunk) {
        if (ref.owner.toLowerCase() !== config.owner.toLowerCase() || ref.repo.toLowerCase() !== config.repo.toLowerCase()) {
          throw new Error(`batch PR ${ref.owner}/${ref.repo}#${ref.number} is not of ${config.owner}/${config.repo}`);
        }
        entry.numbers.push(ref.number);
        shardOf.set(ref.number, shard);
      }
    });
  }
  // every batch fake gets the same window (GitHub meters the token, not the fake), so ao's budget
  // sees one window with one reset
  const window = batch ? { limit: batch.limit, resetAt: new Date(Math.ceil((Date.now() + 3600_000) / 1000) * 1000).toISOString() } : null;
  const threads = 2;
  const fakes = new Map<number, string>();
  const workers: Worker[] = [];
  await Promise.all(
    Array.from({ length: threads }, async (_, t) => {
      const mine = shardList.filter((_s, k) => k % threads === t);
      if (mine.length === 0) return;
      // a worker thread does not inherit the --import tsx hooks (Node 20): load the TypeScript through tsx's API
      const entry = new URL('./github-fake-worker.ts', import.meta.url).href;
      const worker = new Worker(`import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`, {
        eval: true,
        workerData: { owner: config.owner, repo: config.repo, token, shards: mine, window },
      });
      workers.push(worker);
      const urls = await new Promise<Array<{ shard: number; url: string }>>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      for (const { shard, url } of urls) fakes.set(shard, url);
    }),
  );
  const firstShard = fakes.values().next().value;
  if (!firstShard) throw new Error('no PRs to serve');
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });

  const cache = new Map<string, Cached>();
  let delay = { baseMs: 0, jitterMs: 0 };
  const counts: StubCounts = { requests: 0, hits: 0, misses: 0, fakeRequests: 0, points: 0 };

  const forward = (fakeUrl: string, req: IncomingMessage, body: Buffer): Promise<Cached> =>
    new Promise((resolve, reject) => {
      const target = new URL(fakeUrl);
      const out = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) {
              if (typeof v === 'string' && (k === 'content-type' || k.startsWith('x-ratelimit-'))) headers[k] = v;
            }
            const answer = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 500, headers, body: answer, cost: costOf(answer) });
          });
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    counts.requests++;
    const key = `${req.headers.authorization ?? ''}\n${body.toString('utf8')}`;
    let answer = cache.get(key);
    if (answer) counts.hits++;
    else {
      counts.misses++;
      let number: unknown;
      try {
        // a claim names its PR `number`; a batch its first PR `p0` (its chunk is all on that PR's fake)
        const variables = (JSON.parse(body.toString('utf8')) as { variables?: { number?: unknown; p0?: unknown } }).variables;
        number = variables?.number ?? variables?.p0;
      } catch {
        number = undefined;
      }
      const shard = typeof number === 'number' ? shardOf.get(number) : undefined;
      const fake = (shard === undefined ? undefined : fakes.get(shard)) ?? firstShard;
      counts.fakeRequests++;
      answer = await forward(fake, req, body);
      // only clean answers are replayed: an error stays an error the fake decides on each time
      if (answer.status === 200 && !answer.body.includes('"errors"')) cache.set(key, answer);
    }
    counts.points += answer.cost;
    const wait = delay.baseMs + (delay.jitterMs > 0 ? (Math.random() * 2 - 1) * delay.jitterMs : 0);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: err instanceof Error ? err.message : String(err) }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;

  // fill the cache through ao's own client: the same request bodies the worker will send
  const started = performance.now();
  const client = createGitHubClient({ url, token });
  let snapshot: PrSnapshot | null = null;
  const queue = [...config.numbers];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const { snapshot: s } = await client.fetchPullRequest({ owner: config.owner, repo: config.repo, number: n });
        if (n === config.numbers[0]) snapshot = s;
      }
    }),
  );
  if (batch) {
    // each call is one request, as the worker's: its refs are one chunk and batchSize its length
    const lines: string[][] = new Array<string[]>(batch.chunks.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let k = next++; k < batch.chunks.length; k = next++) {
          const chunk = batch.chunks[k] ?? [];
          const { items, requests } = await client.fetchPullRequests(chunk, { batchSize: chunk.length });
          if (requests !== 1) throw new Error(`chunk ${k}: ${requests} requests for one chunk`);
          lines[k] = items.map((item) => {
            if (!item.ok) throw new Error(`${item.ref.owner}/${item.ref.repo}#${item.ref.number}: ${item.error.message}`);
            snapshot ??= item.snapshot;
            return JSON.stringify(item.snapshot);
          });
        }
      }),
    );
    writeFileSync(batch.snapshotsPath, lines.flat().join('\n') + '\n');
  }
  if (!snapshot) throw new Error('warm-up fetched nothing');
  const warmMs = performance.now() - started;

  process.on('message', (message: StubCommand) => {
    if (message.type === 'delay') {
      delay = { baseMs: message.baseMs, jitterMs: message.jitterMs };
      process.send?.({ type: 'ok' } satisfies StubReply);
    } else if (message.type === 'stats') {
      process.send?.({ type: 'stats', ...counts } satisfies StubReply);
    }
  });
  process.on('disconnect', () => {
    for (const w of workers) void w.terminate();
    process.exit(0);
  });
  process.send?.({ type: 'ready', url, token, warmed: cache.size, warmMs, snapshot } satisfies StubReply);
}

await main();
