import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TEST_HOST_ID } from './fixtures.js';
import { queueEnv } from './env.js';
import type { Stack } from './stack.js';

export interface TestChild {
  child: ChildProcess;
  /** the first stdout line (a ready marker, or what the process announces) */
  ready: Promise<string>;
  /** SIGKILL (if still running) and wait for the exit */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs one of test/support's TypeScript entry points as a process of its own. */
export function spawnSupportProcess(name: string, env: NodeJS.ProcessEnv): TestChild {
  const script = fileURLToPath(new URL(`./${name}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    child.once('exit', (code, signal) => reject(new Error(`${name} exited early (${code ?? signal})`)));
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

/** A claim worker process against the stack's database, Redis prefix and fake GitHub. */
export function spawnWorkerProcess(stack: Stack, env: NodeJS.ProcessEnv = {}): TestChild {
  return spawnSupportProcess('worker-process.ts', {
    DATABASE_URL: stack.db.url,
    ...queueEnv(stack.queue),
    GITHUB_GRAPHQL_URL: stack.github.url,
    GITHUB_TOKEN: stack.github.token,
    AO_HOST_ID: TEST_HOST_ID,
    AO_DATA_DIR: stack.dataDir,
    ...env,
  });
}

/** For the entry points above: a variable the test that spawned the process must have set. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}
