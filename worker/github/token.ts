import { execFile } from 'node:child_process';
import { AoError } from '../../core/errors.js';

let cached: Promise<string> | undefined;

/** GITHUB_TOKEN, else `gh auth token`; resolved once per process and never logged. */
export function resolveGitHubToken(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.GITHUB_TOKEN?.trim();
  if (fromEnv) return Promise.resolve(fromEnv);
  cached ??= new Promise<string>((resolve, reject) => {
    execFile('gh', ['auth', 'token'], { timeout: 5000 }, (err, stdout) => {
      const token = String(stdout ?? '').trim();
      if (err || token === '') {
        cached = undefined; // try again next time: the user may log in meanwhile
        reject(new AoError('SCM_AUTH_FAILED', 'no GitHub token: set GITHUB_TOKEN or run `gh auth login`'));
      } else {
        resolve(token);
      }
    });
  });
  return cached;
}
