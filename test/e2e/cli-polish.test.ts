import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../core/domain.js';
import { makeCheckout, startStack, type Stack } from '../support/stack.js';
import { queueEnv } from '../support/env.js';

/**
 * The CLI as a newcomer meets it (issue 15 §6): the built `ao` binary as a child process, against a
 * running stack where it needs one.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'run.js');

let stack: Stack;
let checkout: { path: string; remove(): Promise<void> };
let home: string;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'cli', 'commands'))) throw new Error('the CLI is not built: run `npm run build` (npm test does)');
  stack = await startStack();
  checkout = await makeCheckout();
  home = await mkdtemp(join(tmpdir(), 'ao-cli-polish-'));
});
afterAll(async () => {
  await stack?.close();
  await checkout?.remove();
  if (home) await rm(home, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ao(args: string[], env: Record<string, string> = {}, binary = bin): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [binary, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: home, AO_API_URL: stack.api, AO_DATA_DIR: join(home, 'data'), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** stdout is exactly one JSON document of the error shape */
function jsonError(run: Run): { code: string; message: string; details: Record<string, unknown> | null } {
  const doc = JSON.parse(run.stdout) as { error: { code: string; message: string; details: Record<string, unknown> | null } };
  expect(Object.keys(doc)).toEqual(['error']);
  expect(Object.keys(doc.error).sort()).toEqual(['code', 'details', 'message']);
  return doc.error;
}

const count = (text: string, part: string) => text.split(part).length - 1;

async function listening<T extends Server | ReturnType<typeof createNetServer>>(server: T): Promise<{ server: T; port: number }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

describe('before the build', () => {
  it('the bin says how to build, on one line, and exits 2 (JSON under --json)', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'ao-unbuilt-'));
    try {
      await mkdir(join(copy, 'bin'));
      await copyFile(bin, join(copy, 'bin', 'run.js'));
      await writeFile(join(copy, 'package.json'), JSON.stringify({ name: 'ao', type: 'module' }));
      const run = await ao(['project', 'ls'], {}, join(copy, 'bin', 'run.js'));
      expect(run.code).toBe(2);
      expect(run.stderr).toBe('ao is not built: run `npm run build` (or `npm ci`, which builds it)\n');
      expect(run.stdout).toBe('');
      const json = await ao(['project', 'ls', '--json'], {}, join(copy, 'bin', 'run.js'));
      expect(json.code).toBe(2);
      expect(jsonError(json)).toMatchObject({ code: 'NOT_BUILT' });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('npm ci / npm install build it (the prepare script), and skip that where the sources are not there yet (Docker layer)', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe('[ ! -f tsconfig.build.json ] || npm run build');
  });
});

describe('unknown commands', () => {
  it.each([
    [['sesion', 'ls'], 'did you mean `ao session ls`?'],
    [['session', 'lss'], 'did you mean `ao session ls`?'],
    [['job', 'wiat', 'job_1'], 'did you mean `ao job wait job_1`?'],
    [['spwn', '--project', 'x'], 'did you mean `ao spawn --project x`?'],
  ])('suggest the nearest command and exit 2: %j', async (args, hint) => {
    const run = await ao(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(hint);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('say so plainly when nothing is near', async () => {
    const run = await ao(['bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('ao: command `bogus` not found; see `ao --help` for the commands\n');
  });
});

describe('usage errors', () => {
  it.each([
    [['session', 'claim-pr'], 'session claim-pr'],
    [['job', 'ls', '--limit', 'abc'], 'job ls'],
    [['session', 'claim-pr', 'a-1', '1', '--bogus'], 'session claim-pr'],
    [['events', '--retry-for', '3'], 'events'],
  ])('point to --help once: %j', async (args, command) => {
    const run = await ao(args);
    expect(run.code).toBe(2);
    expect(count(run.stderr, '--help')).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`\\nSee more help with \`ao ${command} --help\`\\n$`));
  });

  it('claim-pr names its arguments SESSION [PR] in help', async () => {
    const run = await ao(['session', 'claim-pr', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('$ ao session claim-pr SESSION [PR]');
    expect(run.stdout).toMatch(/AO_SESSION_ID/);
    expect(run.stdout).toMatch(/may also come\s+first/);
    expect(run.stdout).not.toMatch(/FIRST|SECOND/);
  });

  it('events --after with a malformed cursor is a usage error before any request, with or without --follow', async () => {
    for (const args of [['events', '--after', 'garbage'], ['events', '--follow', '--after', '12-x']]) {
      const run = await ao(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain('is not an event id');
      const json = await ao([...args, '--json']);
      expect(json.code).toBe(2);
      expect(jsonError(json)).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'after' } });
    }
    expect((await ao(['events', '--after', '0', '--limit', '1', '--json'])).code).toBe(0);
    expect((await ao(['events', '--after', '1-1', '--limit', '1', '--json'])).code).toBe(0);
  });
});

describe('--json: every failure is one JSON document on stdout', () => {
  it.each<[string[], Record<string, string>, string, number]>([
    [['bogus', '--json'], {}, 'COMMAND_NOT_FOUND', 2],
    [['sesion', 'ls', '--json'], {}, 'COMMAND_NOT_FOUND', 2],
    [['--json'], {}, 'COMMAND_NOT_FOUND', 2],
    [['session', 'claim-pr', '--json'], {}, 'USAGE', 2],
    [['job', 'ls', '--limit', 'abc', '--json'], {}, 'USAGE', 2],
    [['start', '--json'], {}, 'USAGE', 2],
    [['project', 'ls', '--json'], { AO_API_URL: 'nope' }, 'CONFIG_INVALID', 2],
    [['job', 'show', 'job_nosuch', '--json'], {}, 'JOB_NOT_FOUND', 1],
  ])('%j', async (args, env, code, exit) => {
    const run = await ao(args, env);
    expect(run.code).toBe(exit);
    expect(jsonError(run).code).toBe(code);
    expect(run.stderr).toBe('');
  });

  it('the suggestion is in the details', async () => {
    expect(jsonError(await ao(['sesion', 'ls', '--json'])).details).toEqual({ command: 'sesion ls', suggestion: 'ao session ls --json' });
  });
});

describe('configuration', () => {
  it('a client command validates only the variables it uses', async () => {
    const run = await ao(['project', 'ls', '--json'], { AO_PORT: 'abc', AO_WORKER_CONCURRENCY: '0', DATABASE_URL: 'mysql://x' });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveProperty('projects');
  });

  it('says "invalid configuration" once, each bad variable on its line', async () => {
    const run = await ao(['project', 'ls'], { AO_API_URL: 'nope', AO_DATA_DIR: 'relative' });
    expect(run.code).toBe(2);
    expect(count(run.stderr, 'invalid configuration')).toBe(1);
    expect(run.stderr).not.toContain('CONFIG_INVALID');
    expect(run.stderr.trim().split('\n')).toEqual([
      'ao: invalid configuration (2 problems):',
      'AO_API_URL: must be an http(s) URL (https:// or http://…) (got "nope")',
      'AO_DATA_DIR: must be an absolute path (or start with ~/) (got "relative")',
    ]);
  });

  it('the server commands still validate everything', async () => {
    const run = await ao(['api'], { AO_PORT: 'abc' });
    expect(run.code).toBe(2);
    expect(count(run.stderr, 'invalid configuration')).toBe(1);
    expect(run.stderr).toContain('AO_PORT: must be a whole number');
  });
});

describe('a busy port', () => {
  it.each([['api'], ['start']])('ao %s names the port and AO_PORT', async (command) => {
    const { server, port } = await listening(createNetServer());
    try {
      const run = await ao([command], { AO_PORT: String(port), DATABASE_URL: stack.db.url, ...queueEnv(stack.queue), AO_LOG_LEVEL: 'warn' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`ao: port ${port} is in use on 127.0.0.1 (set AO_PORT to another port, or stop what listens there`);
    } finally {
      server.close();
    }
  });
});

describe('a server at AO_API_URL that is not ao', () => {
  it.each<[string, number, string, string]>([
    ['a 404 page', 404, 'text/html', '<html>Not Found</html>'],
    ['a 404 in JSON that is no ao problem document', 404, 'application/json', '{"message":"Not Found"}'],
    ['a 200 page', 200, 'text/html', '<html>hello</html>'],
  ])('%s: NOT_AO_API, naming the URL', async (_what, status, type, body) => {
    const { server, port } = await listening(
      createHttpServer((_req, res) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      }),
    );
    try {
      const url = `http://127.0.0.1:${port}`;
      const human = await ao(['project', 'ls'], { AO_API_URL: url });
      expect(human.code).toBe(1);
      expect(human.stderr).toContain(`ao: the server at ${url} is not an ao API (`);
      expect(human.stderr).toContain('(NOT_AO_API)');
      expect(jsonError(await ao(['session', 'ls', '--json'], { AO_API_URL: url }))).toMatchObject({ code: 'NOT_AO_API', details: { url } });
      const follow = await ao(['events', '--follow', '--json'], { AO_API_URL: url });
      expect(follow.code).toBe(1);
      expect(jsonError(follow).code).toBe('NOT_AO_API');
    } finally {
      server.close();
    }
  });
});

describe('errors say only what happened', () => {
  it('job wait of an unknown job prints only the real error', async () => {
    const run = await ao(['job', 'wait', 'nosuch']);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('job nosuch: error');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^ao: .*\(JOB_NOT_FOUND\)\n$/);
  });

  it('session rm of a dirty worktree says --force, and --force removes it', async () => {
    expect((await ao(['project', 'add', checkout.path, '--id', 'polish'])).code).toBe(0);
    const session = (await stack.http<Session>('POST', '/api/v1/sessions', { projectId: 'polish' })).body;
    await writeFile(join(session.workspacePath, 'scratch.txt'), 'uncommitted\n');
    const refused = await ao(['session', 'rm', session.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --force to discard them');
    expect(refused.stderr).not.toMatch(/pass force\b/);
    expect(jsonError(await ao(['session', 'rm', session.id, '--json']))).toMatchObject({ code: 'WORKSPACE_DIRTY', message: expect.stringContaining('--force') });
    const forced = await ao(['session', 'rm', session.id, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(session.workspacePath)).toBe(false);
  });
});

describe('version and completion', () => {
  it('ao --version prints the version', async () => {
    const run = await ao(['--version']);
    expect(run.code).toBe(0);
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(run.stdout).toMatch(new RegExp(`^ao/${pkg.version.replaceAll('.', '\\.')} \\S+ node-v\\d+`));
  });

  it('ao autocomplete is there (its help; no shell rc is touched)', async () => {
    const run = await ao(['autocomplete', '--help']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('$ ao autocomplete [SHELL]');
    expect((await ao(['--help'])).stdout).toContain('autocomplete');
  });
});
