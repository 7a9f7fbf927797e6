import { homedir } from 'node:os';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { HOST_ID_PATTERN, HOST_ID_RULE } from './host-id.js';

/**
 * Configuration by environment (SPEC §7), validated once at start. Every bad variable is reported,
 * not just the first, so one restart fixes them all. Values that are secret are never echoed;
 * values that are URLs are echoed with their credentials masked.
 *
 * `loadConfig` does no I/O beyond reading the home directory: the `gh auth token` fallback for
 * GITHUB_TOKEN and the embedded Postgres/Redis (when DATABASE_URL/REDIS_URL are unset) belong to the
 * code that needs them, which is why those fields stay `undefined` here instead of getting defaults.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
/** where BullMQ runs (SPEC §7): Redis, or its PostgreSQL backend in ao's database */
export const QUEUE_BACKENDS = ['redis', 'postgres'] as const;
export type QueueBackendName = (typeof QUEUE_BACKENDS)[number];
/** AO_QUEUE_BACKEND: one of them, or `auto` (core/services.ts decides) */
export const QUEUE_BACKEND_CHOICES = ['auto', ...QUEUE_BACKENDS] as const;
export type QueueBackendChoice = (typeof QUEUE_BACKEND_CHOICES)[number];

export interface Config {
  /** undefined → the embedded Postgres */
  databaseUrl: string | undefined;
  /** undefined → a `redis-server` found on PATH */
  redisUrl: string | undefined;
  /** BullMQ key prefix */
  queuePrefix: string;
  /** AO_QUEUE_BACKEND: BullMQ on Redis, on its PostgreSQL backend, or `auto` (Redis when one is given, answers or can be started) */
  queueBackend: QueueBackendChoice;
  /** undefined → `gh auth token` when GitHub is first called */
  githubToken: string | undefined;
  githubGraphqlUrl: string;
  /** address the API binds */
  host: string;
  /** 0 picks a free port */
  port: number;
  /** where the CLI reaches the API, without a trailing slash */
  apiUrl: string;
  /** bearer token the API requires; mandatory off loopback (assertSafeBinding) */
  apiToken: string | undefined;
  /** worktrees and embedded services; absolute */
  dataDir: string;
  /** AO_HOST_ID; undefined → generated once and kept in dataDir (core/host-id.ts) */
  hostId: string | undefined;
  logLevel: LogLevel;
  /** AO_LOG_FORMAT: `pretty` (one readable line per entry), `json` (pino's lines), `auto`: pretty on a terminal */
  logFormat: LogFormat;
  workerConcurrency: number;
  /** events, finished jobs and idempotency keys older than this many days are deleted */
  retentionDays: number;
  /** how long the API waits for a host's worker to do git work before HOST_UNAVAILABLE */
  hostWaitSeconds: number;
  /** PRs per GitHub GraphQL request in batch re-claims */
  githubBatchSize: number;
  /** the share of GitHub's hourly budget batch work never spends (0..0.9) */
  githubReserve: number;
  /** seconds between scheduled refreshes of live sessions' open PRs; 0: off */
  refreshIntervalSeconds: number;
}

export interface ConfigProblem {
  variable: string;
  /** the problem and the offending value, as shown in the message */
  message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super([`invalid configuration (${count}):`, ...problems.map((p) => `${p.variable}: ${p.message}`)].join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const DEFAULT_PORT = 7420;
export const DEFAULT_RETENTION_DAYS = 7;
export const DEFAULT_GITHUB_GRAPHQL_URL = 'https://api.github.com/graphql';
export const DEFAULT_API_URL = `http://127.0.0.1:${DEFAULT_PORT}`;
const MIN_API_TOKEN_LENGTH = 16;

/** Shown as `(set)` in messages: echoing them would leak them into logs and terminals. */
const SECRET_VARIABLES = new Set(['GITHUB_TOKEN', 'AO_API_TOKEN']);
/** Echoed with everything before the host's `@` masked (`postgres://user:pw@h` → `postgres://***@h`). */
const URL_VARIABLES = new Set(['DATABASE_URL', 'REDIS_URL', 'GITHUB_GRAPHQL_URL', 'AO_API_URL']);

const VARIABLES = [
  'DATABASE_URL',
  'REDIS_URL',
  'AO_QUEUE_PREFIX',
  'AO_QUEUE_BACKEND',
  'GITHUB_TOKEN',
  'GITHUB_GRAPHQL_URL',
  'AO_HOST',
  'AO_PORT',
  'AO_API_URL',
  'AO_API_TOKEN',
  'AO_DATA_DIR',
  'AO_HOST_ID',
  'AO_LOG_LEVEL',
  'AO_LOG_FORMAT',
  'AO_WORKER_CONCURRENCY',
  'AO_RETENTION_DAYS',
  'AO_HOST_WAIT_SECONDS',
  'AO_GITHUB_BATCH_SIZE',
  'AO_GITHUB_RESERVE',
  'AO_REFRESH_INTERVAL',
] as const;
type Variable = (typeof VARIABLES)[number];
type RawEnv = Partial<Record<Variable, string>>;

/** Reads and validates the environment; throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = pickVariables(env);
  const parsed = configSchema(homeDirectory(env)).safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, raw));
  const v = parsed.data;
  return {
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    queuePrefix: v.AO_QUEUE_PREFIX,
    queueBackend: v.AO_QUEUE_BACKEND,
    githubToken: v.GITHUB_TOKEN,
    githubGraphqlUrl: v.GITHUB_GRAPHQL_URL,
    host: v.AO_HOST,
    port: v.AO_PORT,
    apiUrl: v.AO_API_URL,
    apiToken: v.AO_API_TOKEN,
    dataDir: v.AO_DATA_DIR ?? defaultDataDir(env),
    hostId: v.AO_HOST_ID,
    logLevel: v.AO_LOG_LEVEL,
    logFormat: v.AO_LOG_FORMAT,
    workerConcurrency: v.AO_WORKER_CONCURRENCY,
    retentionDays: v.AO_RETENTION_DAYS,
    hostWaitSeconds: v.AO_HOST_WAIT_SECONDS,
    githubBatchSize: v.AO_GITHUB_BATCH_SIZE,
    githubReserve: v.AO_GITHUB_RESERVE,
    refreshIntervalSeconds: v.AO_REFRESH_INTERVAL,
  };
}

/** What a client command (`ao project ls`, `ao session claim-pr`, …) needs: where the API is, and where its own files go. */
export type ClientConfig = Pick<Config, 'apiUrl' | 'apiToken' | 'dataDir'>;

/** The variables a client command reads; it validates only these, so a bad server-only variable (AO_PORT=abc) does not stop it. */
const CLIENT_VARIABLES = ['AO_API_URL', 'AO_API_TOKEN', 'AO_DATA_DIR'] as const satisfies readonly Variable[];

/** Like loadConfig, for the variables of ClientConfig only; throws ConfigError listing every bad one. */
export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const all = pickVariables(env);
  const raw: RawEnv = {};
  for (const name of CLIENT_VARIABLES) if (all[name] !== undefined) raw[name] = all[name];
  const schema = configSchema(homeDirectory(env)).pick({ AO_API_URL: true, AO_API_TOKEN: true, AO_DATA_DIR: true });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, raw));
  const v = parsed.data;
  return { apiUrl: v.AO_API_URL, apiToken: v.AO_API_TOKEN, dataDir: v.AO_DATA_DIR ?? defaultDataDir(env) };
}

/**
 * The API refuses to listen beyond loopback without a token (SPEC §7): anyone on the network could
 * otherwise drive sessions and claims. Separate from loadConfig because only the API binds — the CLI
 * and a worker-only process must start whatever AO_HOST says.
 */
export function assertSafeBinding(config: Pick<Config, 'host' | 'apiToken'>): void {
  if (isLoopbackHost(config.host) || config.apiToken !== undefined) return;
  throw new ConfigError([
    {
      variable: 'AO_HOST',
      message:
        `binding ${JSON.stringify(config.host)} exposes the API beyond this machine; ` +
        `set AO_API_TOKEN (at least ${MIN_API_TOKEN_LENGTH} characters) or bind 127.0.0.1`,
    },
  ]);
}

/** True for `localhost`, 127.0.0.0/8 and ::1 (in any spelling, bracketed or IPv4-mapped). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    const canonical = canonicalIpv6(h);
    return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canonical);
  }
  return false;
}

/** `0:0:0:0:0:0:0:1` → `::1`, `::ffff:127.0.0.1` → `::ffff:7f00:1`; the URL parser implements RFC 5952. */
function canonicalIpv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address; // a zone id (`fe80::1%eth0`) is not loopback anyway
  }
}

function configSchema(home: string) {
  return z.object({
    DATABASE_URL: urlWithScheme(['postgres', 'postgresql'], 'a PostgreSQL').optional(),
    REDIS_URL: urlWithScheme(['redis', 'rediss'], 'a Redis').optional(),
    // Safe in a Redis key and in a BullMQ prefix; `:` is BullMQ's own separator, so it is kept out.
    AO_QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
      .default('ao'),
    AO_QUEUE_BACKEND: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(QUEUE_BACKEND_CHOICES, `must be one of ${QUEUE_BACKEND_CHOICES.join(', ')}`))
      .default('auto'),
    GITHUB_TOKEN: z.string().regex(/^\S+$/, 'must not contain whitespace').optional(),
    GITHUB_GRAPHQL_URL: urlWithScheme(['https', 'http'], 'an http(s)').default(DEFAULT_GITHUB_GRAPHQL_URL),
    AO_HOST: z
      .string()
      .refine(isHostAddress, 'must be a host name or an IP address (no scheme, port or brackets)')
      .default('127.0.0.1'),
    AO_PORT: integerBetween(0, 65535, ' (0 picks a free port)').default(DEFAULT_PORT),
    AO_API_URL: urlWithScheme(['https', 'http'], 'an http(s)')
      .refine((v) => !/[?#]/.test(v), 'must not have a query or fragment')
      .transform((v) => v.replace(/\/+$/, ''))
      .default(DEFAULT_API_URL),
    AO_API_TOKEN: z
      .string()
      .min(MIN_API_TOKEN_LENGTH, `must be at least ${MIN_API_TOKEN_LENGTH} characters`)
      // It travels in `Authorization: Bearer …`; whitespace or control characters would break the header.
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
    AO_DATA_DIR: z
      .string()
      .transform((v) => expandHome(v, home))
      .refine(isAbsolute, 'must be an absolute path (or start with ~/)')
      .optional(),
    AO_HOST_ID: z.string().regex(HOST_ID_PATTERN, `must be ${HOST_ID_RULE}`).optional(),
    AO_LOG_LEVEL: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(', ')}`))
      .default('info'),
    AO_LOG_FORMAT: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(LOG_FORMATS, `must be one of ${LOG_FORMATS.join(', ')}`))
      .default('auto'),
    AO_WORKER_CONCURRENCY: integerBetween(1, 512).default(16),
    AO_RETENTION_DAYS: integerBetween(1, 3650).default(DEFAULT_RETENTION_DAYS),
    AO_HOST_WAIT_SECONDS: integerBetween(1, 3600).default(30),
    // GitHub answers at most 100 aliases' worth of nodes comfortably; more only raises the cost per request
    AO_GITHUB_BATCH_SIZE: integerBetween(1, 100).default(20),
    AO_GITHUB_RESERVE: z
      .string()
      .refine((v) => /^(0(\.[0-9]{1,3})?|1(\.0{1,3})?)$/.test(v) && Number(v) <= 0.9, 'must be a fraction from 0 to 0.9 (e.g. 0.2)')
      .transform(Number)
      .default(0.2),
    AO_REFRESH_INTERVAL: integerBetween(0, 86_400, ' (0 turns the refresh off)').default(300),
  });
}

function urlWithScheme(schemes: readonly string[], what: string) {
  const list = schemes.map((s) => `${s}://`).join(' or ');
  return z.string().refine((v) => hasScheme(v, schemes), `must be ${what} URL (${list}…)`);
}

function hasScheme(value: string, schemes: readonly string[]): boolean {
  if (!URL.canParse(value)) return false;
  return schemes.includes(new URL(value).protocol.slice(0, -1));
}

/** Digits only: `Number()` would also take `1e3`, `0x10` and `  7 `, which nobody means. */
function integerBetween(min: number, max: number, hint = '') {
  return z
    .string()
    .refine((v) => /^[0-9]{1,6}$/.test(v) && Number(v) >= min && Number(v) <= max, {
      message: `must be a whole number from ${min} to ${max}${hint}`,
    })
    .transform(Number);
}

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function isHostAddress(value: string): boolean {
  return isIP(value) !== 0 || HOSTNAME_RE.test(value);
}

function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** XDG base directories: `$XDG_DATA_HOME/ao`, else `~/.local/share/ao`; a relative XDG_DATA_HOME is ignored, as the XDG spec requires. */
function defaultDataDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_DATA_HOME?.trim();
  if (xdg && isAbsolute(xdg)) return join(xdg, 'ao');
  return join(homeDirectory(env), '.local', 'share', 'ao');
}

function homeDirectory(env: NodeJS.ProcessEnv): string {
  return env.HOME?.trim() || homedir();
}

/** Only our variables, trimmed; empty counts as unset so `AO_PORT=` in a .env file means "default". */
function pickVariables(env: NodeJS.ProcessEnv): RawEnv {
  const raw: RawEnv = {};
  for (const name of VARIABLES) {
    const value = env[name]?.trim();
    if (value) raw[name] = value;
  }
  return raw;
}

/** One problem per variable (the first zod found), in the order the variables are declared. */
function describeIssues(issues: readonly z.core.$ZodIssue[], raw: RawEnv): ConfigProblem[] {
  const firstByVariable = new Map<string, string>();
  for (const issue of issues) {
    const variable = String(issue.path[0] ?? '');
    if (!firstByVariable.has(variable)) firstByVariable.set(variable, issue.message);
  }
  return VARIABLES.filter((name) => firstByVariable.has(name)).map((name) => ({
    variable: name,
    message: `${firstByVariable.get(name)} ${shownValue(name, raw[name])}`,
  }));
}

function shownValue(name: Variable, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (SECRET_VARIABLES.has(name)) return '(set)';
  const shown = URL_VARIABLES.has(name) ? maskCredentials(value) : value;
  return `(got ${JSON.stringify(clip(shown))})`;
}

/**
 * Masks everything between the scheme and the last `@`, which covers `user:password@` even when the
 * value is not a parseable URL (a typo must not leak the password it was meant to protect).
 */
export function maskCredentials(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = value.indexOf('://');
  const keep = scheme >= 0 && scheme < at ? scheme + 3 : 0;
  return `${value.slice(0, keep)}***${value.slice(at)}`;
}

function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
