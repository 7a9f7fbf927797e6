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
 * IPC: → {type:'delay', baseMs, jitterMs} | {type:'stats'}; ← {type:'ready', ...} | {type:'stats', ...} | {type:'ok'}
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { createGitHubClient } from '../../worker/github/client.js';
import type { PrSnapshot } from '../../core/domain.js';

export interface StubConfig {
  owner: string;
  repo: string;
  /** PR numbers to serve (and warm) */
  numbers: number[];
  shardSize: number;
}

export type StubReply =
  | { type: 'ready'; url: string; token: string; warmed: number; warmMs: number; snapshot: PrSnapshot }
  | { type: 'stats'; requests: number; hits: number; misses: number; fakeRequests: number }
  | { type: 'ok' };

export type StubCommand = { type: 'delay'; baseMs: number; jitterMs: number } | { type: 'stats' };

interface Cached {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as StubConfig;
  const token = 'fake-token';
  // the fakes run in worker threads (two: one per core), each holding some shards of PRs
  const shardOf = (n: number) => Math.floor(n / config.shardSize);
  const byShard = new Map<number, number[]>();
  for (const n of config.numbers) byShard.set(shardOf(n), [...(byShard.get(shardOf(n)) ?? []), n]);
  const shardList = [...byShard.entries()].map(([shard, numbers]) => ({ shard, numbers }));
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
        workerData: { owner: config.owner, repo: config.repo, token, shards: mine },
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
  const counts = { requests: 0, hits: 0, misses: 0, fakeRequests: 0 };

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
            resolve({ status: res.statusCode ?? 500, headers, body: Buffer.concat(chunks) });
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
        number = (JSON.parse(body.toString('utf8')) as { variables?: { number?: unknown } }).variables?.number;
      } catch {
        number = undefined;
      }
      const fake = (typeof number === 'number' ? fakes.get(shardOf(number)) : undefined) ?? firstShard;
      counts.fakeRequests++;
      answer = await forward(fake, req, body);
      // only clean answers are replayed: an error stays an error the fake decides on each time
      if (answer.status === 200 && !answer.body.includes('"errors"')) cache.set(key, answer);
    }
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
