/**
 * A worker thread of the GitHub stand-in (bench/lib/github-stub.ts): it runs test/fake-github
 * instances, one per shard of PR numbers, and posts their URLs back. Validating and executing a
 * query costs the fake several ms of CPU; two such threads fill the stand-in's cache on both cores.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startFakeGitHub } from '../../test/fake-github/index.js';
import { benchPullRequest } from './github-pr.js';

interface FakeWorkerData {
  owner: string;
  repo: string;
  token: string;
  shards: Array<{ shard: number; numbers: number[] }>;
  /** a window of `limit` points resetting at `resetAt`, the same for every fake given it */
  window: { limit: number; resetAt: string } | null;
}

const data = workerData as FakeWorkerData;
const urls: Array<{ shard: number; url: string }> = [];
for (const { shard, numbers } of data.shards) {
  const fake = await startFakeGitHub({ token: data.token, ...(data.window ? { limit: data.window.limit } : {}) });
  if (data.window) fake.setRateLimit({ remaining: data.window.limit, limit: data.window.limit, resetAt: data.window.resetAt });
  for (const n of numbers) fake.addPullRequest(data.owner, data.repo, benchPullRequest(n));
  urls.push({ shard, url: fake.url });
}
parentPort?.postMessage(urls);
