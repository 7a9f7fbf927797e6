import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AoError } from '../core/errors.js';
import { canonicalPrUrl, parsePrRef, parseRepoUrl, PR_REF_FORMS } from '../core/pr-ref.js';
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
 * number works for projects without an origin too (via `gh`). Bad refs are usage errors.
 */
export async function resolveRefForProject(ref: string, project: { id: string; path: string; repoUrl: string }): Promise<string> {
  let parsed;
  try {
    parsed = parsePrRef(ref);
  } catch (err) {
    throw new CliFailure('INVALID_PR_REF', err instanceof AoError ? err.message : `invalid PR reference; use ${PR_REF_FORMS}`, EXIT.usage);
  }
  if (parsed.kind === 'full') {
    const origin = parseRepoUrl(project.repoUrl);
    if (origin && (origin.owner.toLowerCase() !== parsed.owner.toLowerCase() || origin.repo.toLowerCase() !== parsed.repo.toLowerCase())) {
      throw new CliFailure(
        'PR_PROJECT_MISMATCH',
        `${parsed.owner}/${parsed.repo}#${parsed.number} is not a PR of project ${project.id} (${origin.owner}/${origin.repo})`,
        EXIT.usage,
      );
    }
    return canonicalPrUrl(parsed.owner, parsed.repo, parsed.number);
  }
  const repo = parseRepoUrl(project.repoUrl) ?? parseRepoUrl((await ghRepoUrl(project.path)) ?? '');
  if (!repo) {
    throw new CliFailure(
      'INVALID_PR_REF',
      `project ${project.id} has no GitHub origin and \`gh repo view\` could not tell it; pass the full PR URL (https://github.com/<owner>/<repo>/pull/${parsed.number})`,
      EXIT.usage,
    );
  }
  return canonicalPrUrl(repo.owner, repo.repo, parsed.number);
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
