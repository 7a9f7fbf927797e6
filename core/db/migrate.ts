import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, migrate, type Settings } from 'graphile-migrate';
// graphile-migrate keeps its pg pools alive after `migrate` returns and calls process.exit(1)
// when one of their idle connections errors (a Postgres restart, a dropped database): end them
// as soon as the migration is done. The version is pinned exactly, so this path is stable.
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';

/** migrations/ of the package, whether this runs from the sources or compiled in dist/ */
function findMigrationsDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'migrations', '.gmrc'))) return join(dir, 'migrations');
  }
  throw new Error('cannot find migrations/.gmrc above ' + fileURLToPath(import.meta.url));
}

const MIGRATIONS_DIR = findMigrationsDir();

/** graphile-migrate throws this when another process holds its advisory lock. */
const LOCKED = /Failed to get exclusive lock/;

async function loadSettings(databaseUrl: string): Promise<Settings> {
  const raw: unknown = JSON.parse(await readFile(`${MIGRATIONS_DIR}/.gmrc`, 'utf8'));
  const settings = typeof raw === 'object' && raw !== null ? (raw as Settings & Record<string, unknown>) : {};
  const { ['//']: _comment, ...rest } = settings;
  return {
    ...rest,
    connectionString: databaseUrl,
    migrationsFolder: MIGRATIONS_DIR,
    logger: quietLogger,
  };
}

// graphile-migrate logs every step at info level; only its warnings and errors matter here.
const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`migrate: ${message}`);
});

/**
 * Applies the committed migrations (never current.sql). Safe to call from every process that
 * starts: when another process is migrating, this waits for it and re-checks.
 */
export async function runMigrations(databaseUrl: string, options: { timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const settings = await loadSettings(databaseUrl);
  for (let attempt = 0; ; attempt++) {
    try {
      await migrate(settings);
      return;
    } catch (err) {
      if (!(err instanceof Error) || !LOCKED.test(err.message) || Date.now() > deadline) throw err;
    } finally {
      clearAllPools();
    }
    // another process holds the migration lock: wait for it, then find everything applied
    await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
  }
}
