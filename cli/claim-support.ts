import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AoError } from '../core/errors.js';
import { parsePrRef, parseRepoUrl, resolvePrRef } from '../core/pr-ref.js';
import { CliFailure, EXIT } from './base-command.js';

/** `gh repo view --json url -q .url` in the checkout: the fallback when a project has no origin. */
export function ghRepoUrl(cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('gh', ['repo', 'view', '--json', 'url', '-q', '.url'], { cwd, timeout: 10_000 }, (err, stdout) => {
      resolve(err ? null : String(stdout).trim() || null);
    });
  });
}

/**
 * The ref as the API should get it: a full URL whenever the CLI can tell the repository, so a
 * number works for projects without an origin too (via `gh`). The rules are core's
 * (resolvePrRef); a ref they refuse is a usage error here, before anything is created.
 */
export async function resolveRefForProject(ref: string, project: { path: string; repoUrl: string }): Promise<string> {
  try {
    const parsed = parsePrRef(ref);
    const repoUrl = parsed.kind === 'number' && !parseRepoUrl(project.repoUrl) ? ((await ghRepoUrl(project.path)) ?? '') : project.repoUrl;
    return resolvePrRef(parsed, repoUrl).url;
  } catch (err) {
    if (err instanceof AoError) throw new CliFailure(err.code, err.message, EXIT.usage, err.details);
    throw err;
  }
}

/**
 * Idempotency keys of claims this machine started and has not seen finish: running the same
 * command again sends the same key and so attaches to the same job; once the job is finished, a
 * new run makes a new claim.
 */
export class PendingClaims {
  constructor(private readonly file: string) {}

  static at(dataDir: string): PendingClaims {
    return new PendingClaims(join(dataDir, 'cli', 'pending-claims.json'));
  }

  private async read(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  private async write(entries: Record<string, string>): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(this.file, JSON.stringify(entries, null, 2));
  }

  static requestKey(sessionId: string, pr: string, allowTakeover: boolean): string {
    return createHash('sha256').update(JSON.stringify([sessionId, pr.toLowerCase(), allowTakeover])).digest('hex').slice(0, 32);
  }

  async keyFor(request: string): Promise<string> {
    const entries = await this.read();
    return entries[request] ?? `cli-${randomUUID()}`;
  }

  async remember(request: string, key: string): Promise<void> {
    await this.write({ ...(await this.read()), [request]: key });
  }

  async forget(request: string): Promise<void> {
    const entries = await this.read();
    delete entries[request];
    await this.write(entries);
  }
}
