import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildApi } from '../../api/app.js';
import type { ApiContext } from '../../api/context.js';

const run = promisify(execFile);
const REDOCLY = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js');
const CONFIG = fileURLToPath(new URL('../../redocly.yaml', import.meta.url));
const TOKEN = 'openapi-lint-token';

/**
 * Warnings of the recommended rules that are accepted: the probes answer no 4xx (they take no
 * input and need no token). Anything else the linter says fails the test.
 */
const ACCEPTED_WARNINGS = ['operation-4xx-response #/paths/~1healthz/get/responses', 'operation-4xx-response #/paths/~1readyz/get/responses'];

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>;
}

/** The document as GET /docs/json serves it; building the routes touches neither Postgres nor Redis. */
async function servedDocument(): Promise<string> {
  const app = await buildApi({ apiToken: TOKEN } as ApiContext);
  try {
    const reply = await app.inject({ method: 'GET', url: '/docs/json', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(reply.statusCode).toBe(200);
    return reply.body;
  } finally {
    await app.close();
  }
}

/** `redocly lint` with the repository's redocly.yaml (the recommended rules), offline: nothing is fetched or reported. */
async function lint(file: string): Promise<LintReport> {
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
  const args = [REDOCLY, 'lint', file, '--config', CONFIG, '--format', 'json'];
  try {
    const { stdout } = await run(process.execPath, args, { env, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout) as LintReport;
  } catch (err) {
    // exit status 1 when there are errors: the report is on stdout all the same
    const stdout = (err as { stdout?: string }).stdout;
    if (!stdout) throw err;
    return JSON.parse(stdout) as LintReport;
  }
}

describe('the OpenAPI document at /docs/json', () => {
  it("passes Redocly's recommended rules: no errors, and no warnings but the accepted ones", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ao-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, await servedDocument());
      const report = await lint(file);
      const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`);
      expect(problems.filter((p) => p.startsWith('error')), problems.join('\n')).toEqual([]);
      expect(report.totals.errors).toBe(0);
      const warnings = report.problems.filter((p) => p.severity === 'warn').map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}`);
      expect(warnings.filter((w) => !ACCEPTED_WARNINGS.includes(w)), problems.join('\n')).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('declares the bearer token on every operation but the probes, which the token hook leaves open', async () => {
    const doc = JSON.parse(await servedDocument()) as {
      security?: unknown;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.security).toEqual([{ bearer: [] }]);
    const open = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.security?.length === 0).map(([m]) => `${m} ${path}`));
    expect(open.sort()).toEqual(['get /healthz', 'get /readyz']);
    expect(Object.keys(doc.components.schemas).filter((name) => name.endsWith('Input'))).toEqual([]);
  });
});
