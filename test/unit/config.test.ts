import { describe, expect, it } from 'vitest';
import { assertSafeBinding, ConfigError, isLoopbackHost, loadConfig, type Config } from '../../core/config.js';

/** A hermetic environment: only HOME, so defaults do not depend on the machine running the tests. */
const BASE = { HOME: '/home/tester' };

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('loadConfig: defaults', () => {
  it('an empty environment gives every default', () => {
    expect(loadConfig(BASE)).toEqual<Config>({
      databaseUrl: undefined,
      redisUrl: undefined,
      queuePrefix: 'ao',
      queueBackend: 'auto',
      logFormat: 'auto',
      githubToken: undefined,
      githubGraphqlUrl: 'https://api.github.com/graphql',
      host: '127.0.0.1',
      port: 7420,
      apiUrl: 'http://127.0.0.1:7420',
      apiToken: undefined,
      dataDir: '/home/tester/.local/share/ao',
      hostId: undefined,
      logLevel: 'info',
      workerConcurrency: 16,
      retentionDays: 7,
      hostWaitSeconds: 30,
      githubBatchSize: 20,
      githubReserve: 0.2,
      refreshIntervalSeconds: 300,
    });
  });

  it('empty and blank strings count as unset', () => {
    const blanks = {
      DATABASE_URL: '',
      REDIS_URL: ' ',
      AO_QUEUE_PREFIX: '',
      GITHUB_TOKEN: '',
      GITHUB_GRAPHQL_URL: '',
      AO_HOST: '',
      AO_PORT: '',
      AO_API_URL: '',
      AO_API_TOKEN: '',
      AO_DATA_DIR: '',
      AO_LOG_LEVEL: '',
      AO_WORKER_CONCURRENCY: '\t',
    };
    expect(loadConfig({ ...BASE, ...blanks })).toEqual(loadConfig(BASE));
  });

  it.each<[Record<string, string>, string]>([
    [{ XDG_DATA_HOME: '/xdg/data' }, '/xdg/data/ao'],
    [{ XDG_DATA_HOME: 'relative/data' }, '/home/tester/.local/share/ao'],
    [{ XDG_DATA_HOME: '' }, '/home/tester/.local/share/ao'],
    [{ AO_DATA_DIR: '/srv/ao', XDG_DATA_HOME: '/xdg/data' }, '/srv/ao'],
    [{ AO_DATA_DIR: '~/ao-data' }, '/home/tester/ao-data'],
    [{ AO_DATA_DIR: '~' }, '/home/tester'],
  ])('data dir from %j → %s', (env, dataDir) => {
    expect(loadConfig({ ...BASE, ...env }).dataDir).toBe(dataDir);
  });

  it('ignores variables it does not own', () => {
    expect(loadConfig({ ...BASE, PORT: 'x', AO_SOMETHING_ELSE: 'y' }).port).toBe(7420);
  });

  it('reads process.env when no environment is passed', () => {
    expect(() => loadConfig()).not.toThrow();
  });
});

describe('loadConfig: accepted values', () => {
  it('takes every variable', () => {
    const config = loadConfig({
      ...BASE,
      DATABASE_URL: 'postgres://ao:pw@db:5432/ao',
      REDIS_URL: 'rediss://:pw@cache:6380/2',
      AO_QUEUE_PREFIX: 'ao-test_1.x',
      GITHUB_TOKEN: 'ghp_abc',
      GITHUB_GRAPHQL_URL: 'http://127.0.0.1:9999/graphql',
      AO_HOST: '0.0.0.0',
      AO_PORT: '8080',
      AO_API_URL: 'https://ao.example.com/base/',
      AO_API_TOKEN: '0123456789abcdef',
      AO_DATA_DIR: '/var/lib/ao',
      AO_HOST_ID: 'build-box-2',
      AO_LOG_LEVEL: 'debug',
      AO_WORKER_CONCURRENCY: '64',
      AO_RETENTION_DAYS: '30',
      AO_HOST_WAIT_SECONDS: '5',
      AO_GITHUB_BATCH_SIZE: '50',
      AO_GITHUB_RESERVE: '0.25',
      AO_REFRESH_INTERVAL: '0',
      AO_QUEUE_BACKEND: 'Postgres',
      AO_LOG_FORMAT: 'JSON',
    });
    expect(config).toEqual<Config>({
      databaseUrl: 'postgres://ao:pw@db:5432/ao',
      redisUrl: 'rediss://:pw@cache:6380/2',
      queuePrefix: 'ao-test_1.x',
      queueBackend: 'postgres',
      logFormat: 'json',
      githubToken: 'ghp_abc',
      githubGraphqlUrl: 'http://127.0.0.1:9999/graphql',
      host: '0.0.0.0',
      port: 8080,
      apiUrl: 'https://ao.example.com/base',
      apiToken: '0123456789abcdef',
      dataDir: '/var/lib/ao',
      hostId: 'build-box-2',
      logLevel: 'debug',
      workerConcurrency: 64,
      retentionDays: 30,
      hostWaitSeconds: 5,
      githubBatchSize: 50,
      githubReserve: 0.25,
      refreshIntervalSeconds: 0,
    });
  });

  it('trims surrounding whitespace', () => {
    const config = loadConfig({ ...BASE, AO_PORT: ' 9000 ', GITHUB_TOKEN: 'ghp_x\n' });
    expect(config.port).toBe(9000);
    expect(config.githubToken).toBe('ghp_x');
  });

  it.each<[string, string, keyof Config, unknown]>([
    ['DATABASE_URL', 'postgresql://localhost/ao', 'databaseUrl', 'postgresql://localhost/ao'],
    ['DATABASE_URL', 'postgres:///ao?host=/var/run/postgresql', 'databaseUrl', 'postgres:///ao?host=/var/run/postgresql'],
    ['REDIS_URL', 'redis://localhost:6379', 'redisUrl', 'redis://localhost:6379'],
    ['AO_QUEUE_BACKEND', 'redis', 'queueBackend', 'redis'],
    ['AO_QUEUE_BACKEND', 'auto', 'queueBackend', 'auto'],
    ['AO_PORT', '0', 'port', 0],
    ['AO_PORT', '65535', 'port', 65535],
    ['AO_PORT', '080', 'port', 80],
    ['AO_HOST', '::', 'host', '::'],
    ['AO_HOST', '::1', 'host', '::1'],
    ['AO_HOST', 'localhost', 'host', 'localhost'],
    ['AO_HOST', 'ao-api.internal', 'host', 'ao-api.internal'],
    ['AO_LOG_LEVEL', 'WARN', 'logLevel', 'warn'],
    ['AO_LOG_LEVEL', 'silent', 'logLevel', 'silent'],
    ['AO_LOG_LEVEL', 'trace', 'logLevel', 'trace'],
    ['AO_WORKER_CONCURRENCY', '1', 'workerConcurrency', 1],
    ['AO_WORKER_CONCURRENCY', '512', 'workerConcurrency', 512],
    ['AO_API_URL', 'http://localhost:7420', 'apiUrl', 'http://localhost:7420'],
    ['AO_API_URL', 'http://localhost:7420///', 'apiUrl', 'http://localhost:7420'],
    ['AO_QUEUE_PREFIX', 'a'.repeat(64), 'queuePrefix', 'a'.repeat(64)],
  ])('%s=%j → %s %j', (name, value, field, expected) => {
    expect(loadConfig({ ...BASE, [name]: value })[field]).toEqual(expected);
  });
});

describe('loadConfig: rejected values', () => {
  it.each<[string, string, RegExp]>([
    ['DATABASE_URL', 'mysql://localhost/ao', /PostgreSQL URL/],
    ['DATABASE_URL', 'localhost:5432', /PostgreSQL URL/],
    ['REDIS_URL', 'localhost:6379', /Redis URL/],
    ['REDIS_URL', 'http://localhost:6379', /Redis URL/],
    ['AO_QUEUE_PREFIX', 'ao:prod', /letters, digits/],
    ['AO_QUEUE_PREFIX', 'ao prod', /letters, digits/],
    ['AO_QUEUE_PREFIX', 'ao{x}', /letters, digits/],
    ['AO_QUEUE_PREFIX', 'a'.repeat(65), /1-64/],
    ['GITHUB_GRAPHQL_URL', 'api.github.com/graphql', /http\(s\) URL/],
    ['GITHUB_GRAPHQL_URL', 'ws://localhost/graphql', /http\(s\) URL/],
    ['AO_HOST', 'http://0.0.0.0', /host name or an IP address/],
    ['AO_HOST', '127.0.0.1:7420', /host name or an IP address/],
    ['AO_HOST', '[::1]', /host name or an IP address/],
    ['AO_HOST', 'my host', /host name or an IP address/],
    ['AO_HOST', '-bad.example', /host name or an IP address/],
    ['AO_PORT', 'abc', /whole number from 0 to 65535/],
    ['AO_QUEUE_BACKEND', 'sqlite', /must be one of auto, redis, postgres/],
    ['AO_LOG_FORMAT', 'xml', /must be one of auto, pretty, json/],
    ['AO_PORT', '-1', /whole number from 0 to 65535/],
    ['AO_PORT', '65536', /whole number from 0 to 65535/],
    ['AO_PORT', '80.5', /whole number from 0 to 65535/],
    ['AO_PORT', '1e3', /whole number from 0 to 65535/],
    ['AO_PORT', '0x1f', /whole number from 0 to 65535/],
    ['AO_API_URL', '127.0.0.1:7420', /http\(s\) URL/],
    ['AO_API_URL', 'ftp://host', /http\(s\) URL/],
    ['AO_API_URL', 'http://host/?x=1', /query or fragment/],
    ['AO_DATA_DIR', 'relative/dir', /absolute path/],
    ['AO_DATA_DIR', './data', /absolute path/],
    ['AO_HOST_ID', 'Build Box', /lowercase letters, digits/],
    ['AO_HOST_ID', '-box', /lowercase letters, digits/],
    ['AO_LOG_LEVEL', 'verbose', /one of fatal, error, warn, info, debug, trace, silent/],
    ['AO_WORKER_CONCURRENCY', '0', /whole number from 1 to 512/],
    ['AO_WORKER_CONCURRENCY', '513', /whole number from 1 to 512/],
    ['AO_WORKER_CONCURRENCY', 'many', /whole number from 1 to 512/],
  ])('%s=%j', (name, value, problem) => {
    const err = configErrorOf(() => loadConfig({ ...BASE, [name]: value }));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.variable).toBe(name);
    const line = err.message.split('\n').find((l) => l.startsWith(`${name}: `));
    expect(line).toBeDefined();
    expect(line).toMatch(problem);
    expect(line).toContain(`(got ${JSON.stringify(value)})`);
  });

  it('lists every bad variable on its own line, in a stable order', () => {
    const err = configErrorOf(() =>
      loadConfig({ ...BASE, AO_WORKER_CONCURRENCY: '0', AO_PORT: 'abc', AO_LOG_LEVEL: 'loud', AO_QUEUE_PREFIX: 'a:b' }),
    );
    expect(err.name).toBe('ConfigError');
    expect(err).toBeInstanceOf(Error);
    expect(err.message.split('\n')).toEqual([
      'invalid configuration (4 problems):',
      'AO_QUEUE_PREFIX: must be 1-64 letters, digits, ".", "_" or "-" (got "a:b")',
      'AO_PORT: must be a whole number from 0 to 65535 (0 picks a free port) (got "abc")',
      'AO_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'AO_WORKER_CONCURRENCY: must be a whole number from 1 to 512 (got "0")',
    ]);
    expect(err.problems.map((p) => p.variable)).toEqual([
      'AO_QUEUE_PREFIX',
      'AO_PORT',
      'AO_LOG_LEVEL',
      'AO_WORKER_CONCURRENCY',
    ]);
  });

  it('reports one problem per variable even when several rules fail', () => {
    const err = configErrorOf(() => loadConfig({ ...BASE, AO_API_TOKEN: 'a b' }));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain('invalid configuration (1 problem):');
  });

  it('escapes control characters in echoed values', () => {
    const err = configErrorOf(() => loadConfig({ ...BASE, AO_PORT: '1\n2' }));
    expect(err.message).toContain('AO_PORT: must be a whole number from 0 to 65535 (0 picks a free port) (got "1\\n2")');
  });
});

describe('loadConfig: secrets are never echoed', () => {
  it.each<[string, string, RegExp]>([
    ['AO_API_TOKEN', 'short-secret-15', /at least 16 characters/],
    ['AO_API_TOKEN', 'shhh', /at least 16 characters/],
    ['AO_API_TOKEN', 'long enough but has spaces', /printable ASCII without spaces/],
    ['GITHUB_TOKEN', 'ghp_abc def', /must not contain whitespace/],
  ])('%s=%j', (name, value, problem) => {
    const err = configErrorOf(() => loadConfig({ ...BASE, [name]: value }));
    expect(err.message).toContain(`${name}: `);
    expect(err.message).toMatch(problem);
    expect(err.message).toContain('(set)');
    expect(err.message).not.toContain(value);
    expect(JSON.stringify(err.problems)).not.toContain(value);
  });

  it.each<[string, string, string]>([
    ['DATABASE_URL', 'mysql://ao:hunter2@db/ao', '(got "mysql://***@db/ao")'],
    ['DATABASE_URL', 'ao:hunter2@db/ao', '(got "***@db/ao")'],
    ['DATABASE_URL', 'postgres//ao:hunter2@db/ao', '(got "***@db/ao")'],
    ['REDIS_URL', 'http://:hunter2@cache:6379', '(got "http://***@cache:6379")'],
    ['AO_API_URL', 'ftp://u:hunter2@host', '(got "ftp://***@host")'],
    ['GITHUB_GRAPHQL_URL', 'ws://u:hunter2@p@host/graphql', '(got "ws://***@host/graphql")'],
  ])('%s=%j masks its credentials', (name, value, shown) => {
    const err = configErrorOf(() => loadConfig({ ...BASE, [name]: value }));
    expect(err.message).toContain(shown);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('isLoopbackHost', () => {
  it.each([
    '127.0.0.1',
    '127.0.0.2',
    '127.255.255.254',
    '::1',
    '0:0:0:0:0:0:0:1',
    '0000:0000:0000:0000:0000:0000:0000:0001',
    '[::1]',
    '::ffff:127.0.0.1',
    'localhost',
    'LocalHost',
    'localhost.',
  ])('%j is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([
    '0.0.0.0',
    '::',
    '',
    '10.0.0.1',
    '192.168.1.10',
    '128.0.0.1',
    '1.127.0.0',
    '::2',
    '::ffff:10.0.0.1',
    'fe80::1%eth0',
    'localhost.example.com',
    'mylocalhost',
    'example.com',
    '127.1',
  ])('%j is not loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('assertSafeBinding', () => {
  it.each<[string, string | undefined]>([
    ['127.0.0.1', undefined],
    ['::1', undefined],
    ['localhost', undefined],
    ['0.0.0.0', '0123456789abcdef'],
    ['10.1.2.3', '0123456789abcdef'],
  ])('allows %j with token %j', (host, apiToken) => {
    expect(() => assertSafeBinding({ host, apiToken })).not.toThrow();
  });

  it.each(['0.0.0.0', '::', '192.168.1.10', 'ao.example.com'])('refuses %j without AO_API_TOKEN', (host) => {
    const err = configErrorOf(() => assertSafeBinding({ host, apiToken: undefined }));
    expect(err.problems.map((p) => p.variable)).toEqual(['AO_HOST']);
    expect(err.message).toContain(`AO_HOST: binding "${host}" exposes the API beyond this machine`);
    expect(err.message).toContain('AO_API_TOKEN');
  });

  it('works on a loaded config', () => {
    expect(() => assertSafeBinding(loadConfig({ ...BASE, AO_HOST: '0.0.0.0' }))).toThrow(ConfigError);
    expect(() =>
      assertSafeBinding(loadConfig({ ...BASE, AO_HOST: '0.0.0.0', AO_API_TOKEN: 'a-long-enough-token' })),
    ).not.toThrow();
  });
});
