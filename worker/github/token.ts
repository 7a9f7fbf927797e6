import { execFile } from 'node:child_process';
import { AoError } from '../../core/errors.js';

let cached: Promise<string> | undefined;

/**
 * The GitHub token: GITHUB_TOKEN, else what `gh auth token` prints (gh also honours GH_TOKEN and
 * GH_HOST from `env`). The gh answer is cached for the process; a failure is not, so a later
 * `gh auth login` takes effect without a restart. The token is never logged or put in a message.
 */
export function resolveGitHubToken(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.GITHUB_TOKEN?.trim();
  if (fromEnv) return Promise.resolve(fromEnv);
  cached ??= ghAuthToken(env).catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

/** Forgets a token obtained from gh (tests; a token revoked meanwhile). */
export function forgetGitHubToken(): void {
  cached = undefined;
}

function ghAuthToken(env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile('gh', ['auth', 'token'], { env, timeout: 5000, maxBuffer: 64 * 1024, windowsHide: true }, (err, stdout) => {
      const token = String(stdout).trim().split('\n')[0]?.trim() ?? '';
      // gh's own error text is not echoed: it could be anything, and this message is shown to users
      if (err || token === '') reject(new AoError('SCM_AUTH_FAILED', 'no GitHub token: set GITHUB_TOKEN or run `gh auth login`'));
      else resolve(token);
    });
  });
}
