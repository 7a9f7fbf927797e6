import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { StubCommand, StubConfig, StubCounts, StubReply } from './github-stub.js';
import type { PrSnapshot } from '../../core/domain.js';
import { memoryOf } from './meter.js';
import { sleep } from './stats.js';

/** the repository root (bench/lib/ → ../..) */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function stopChild(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// the GitHub stand-in

export interface GitHubStub {
  url: string;
  token: string;
  pid: number;
  warmed: number;
  warmMs: number;
  /** the snapshot ao's client makes of the first PR: the template of the SQL anchors */
  snapshot: PrSnapshot;
  setDelay(baseMs: number, jitterMs: number): Promise<void>;
  stats(): Promise<StubCounts>;
  stop(): Promise<void>;
}

export async function startGitHubStub(config: StubConfig): Promise<GitHubStub> {
  const child = fork(join(ROOT, 'bench/lib/github-stub.ts'), [], {
    execArgv: ['--import', 'tsx'],
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends StubReply['type']>(type: T): Promise<Extract<StubReply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: StubReply) => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<StubReply, { type: T }>);
      };
      const onExit = (code: number | null) => reject(new Error(`the GitHub stub exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const send = (command: StubCommand) => child.send(command);
  const readyAnswer = next('ready');
  send({ type: 'config', config });
  const ready = await readyAnswer;
  return {
    url: ready.url,
    token: ready.token,
    pid: child.pid ?? 0,
    warmed: ready.warmed,
    warmMs: ready.warmMs,
    snapshot: ready.snapshot,
    async setDelay(baseMs, jitterMs) {
      const ok = next('ok');
      send({ type: 'delay', baseMs, jitterMs });
      await ok;
    },
    async stats() {
      const reply = next('stats');
      send({ type: 'stats' });
      const { type: _type, ...counts } = await reply;
      return counts;
    },
    async stop() {
      // stopped by its phase and again by the run's cleanup
      if (child.connected) child.disconnect();
      await stopChild(child);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ao itself: `node --import tsx cli/start.ts [start|api|worker]`, i.e. what `npm start` execs

export type AoMode = 'start' | 'api' | 'worker';

export interface AoProcess {
  mode: AoMode;
  pid: number;
  /** the API's URL (start, api); null for a worker */
  url: string | null;
  logPath: string;
  /** VmHWM (peak RSS over the process's life), MB, read just before it is stopped */
  stop(): Promise<{ hwmMb: number | null; exitCode: number | null }>;
}

export async function startAo(mode: AoMode, env: NodeJS.ProcessEnv, logDir: string, tag: string, nodeArgs: string[] = []): Promise<AoProcess> {
  const logPath = join(logDir, `ao-${tag}-${mode}.log`);
  // logs (pino on stderr, one line per request at the default level "info") go to a file: the
  // bench must not spend its own CPU reading them
  const fd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'cli/start.ts', mode], {
    cwd: ROOT,
    env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exitCode: number | null = null;
  child.once('exit', (code) => (exitCode = code));
  const deadline = Date.now() + 90_000;
  const ready = mode === 'worker' ? /ao: worker running/ : /ao: API on (http:\/\/\S+);/;
  let url: string | null;
  for (;;) {
    if (exitCode !== null) throw new Error(`ao ${mode} exited (${exitCode}) during startup; see ${logPath}`);
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`ao ${mode} did not start within 90 s; see ${logPath}`);
    }
    const match = ready.exec(readFileSync(logPath, 'utf8'));
    if (match) {
      url = mode === 'worker' ? null : (match[1] ?? null);
      break;
    }
    await sleep(100);
  }
  return {
    mode,
    pid: child.pid ?? 0,
    url,
    logPath,
    async stop() {
      const hwm = memoryOf(child.pid ?? 0)?.hwmMb ?? null;
      await stopChild(child);
      return { hwmMb: hwm, exitCode: child.exitCode };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the bare fastify route

export interface BareRoute {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBareRoute(): Promise<BareRoute> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/bare-route.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end).trim());
    });
    child.once('exit', (code) => reject(new Error(`the bare route exited (${code})`)));
  });
  return { url, pid: child.pid ?? 0, stop: () => stopChild(child) };
}
