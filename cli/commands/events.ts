import { Flags } from '@oclif/core';
import { z } from 'zod';
import { loadClientConfig } from '../../core/config.js';
import { ApiError } from '../api-client.js';
import { AoCommand, CliFailure, EXIT } from '../base-command.js';
import { DEFAULT_RETRY_FOR_MS, followEvents } from '../follow-events.js';

const Event = z.object({ id: z.string(), type: z.string(), key: z.string(), sessionId: z.string().nullable(), createdAt: z.string() }).passthrough();

/**
 * The cursor's shape as the API reads it (core/store/read-events.ts parseCursor): `0`, or
 * `<txId>-<id>`, each a bigint. Checked here so a typo is a usage error (exit 2) before any request.
 */
const MAX_BIGINT = 9_223_372_036_854_775_807n;
function assertCursor(value: string): void {
  if (value === '' || value === '0') return;
  const match = /^(\d{1,19})-(\d{1,19})$/.exec(value);
  if (match && BigInt(match[1] as string) <= MAX_BIGINT && BigInt(match[2] as string) <= MAX_BIGINT) return;
  const shown = value.length > 64 ? `${JSON.stringify(value.slice(0, 64))}…` : JSON.stringify(value);
  throw new CliFailure('VALIDATION_FAILED', `--after ${shown} is not an event id: pass the id of the last event read (like 1234-56), or 0 for the beginning`, EXIT.usage, {
    field: 'after',
  });
}

export default class Events extends AoCommand {
  static override summary = 'Change events after a cursor; --follow streams them as they commit';
  static override description = `With --follow and --json, each event is one JSON document on its own line (NDJSON). Ctrl-C stops following.
When the stream drops or the API cannot be reached, --follow reconnects from the last event seen, waiting 0.5 s and then longer (up to 30 s) between attempts, with one line on stderr when the state changes; after --retry-for seconds without a connection (default ${DEFAULT_RETRY_FOR_MS / 1000}; 0: forever) it gives up with API_UNREACHABLE. An error answer (4xx, e.g. UNAUTHORIZED or a bad cursor) ends it at once with its code; a cursor older than the oldest event kept (retention) with CURSOR_EXPIRED, naming the oldest cursor.
Exit codes: 0 success (or stopped with Ctrl-C), 1 failure, 2 usage.`;
  static override examples = [
    '<%= config.bin %> events',
    '<%= config.bin %> events --after 1234-56 --limit 50 --json',
    '<%= config.bin %> events --follow --json | jq -c \'select(.type == "pr_updated")\'',
    '<%= config.bin %> events --follow --retry-for 0',
  ];
  static override flags = {
    after: Flags.string({ description: 'an event id, like 1234-56 (default, or 0: from the beginning)' }),
    limit: Flags.integer({ description: 'at most this many', default: 100, min: 1, max: 1000 }),
    follow: Flags.boolean({ char: 'f', description: 'keep streaming new events', default: false }),
    'retry-for': Flags.integer({
      description: `with --follow: seconds to keep reconnecting without a connection before giving up with API_UNREACHABLE (0: forever) [default: ${DEFAULT_RETRY_FOR_MS / 1000}]`,
      min: 0,
    }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Events);
    if (flags['retry-for'] !== undefined && !flags.follow) throw new CliFailure('USAGE', '--retry-for requires --follow', EXIT.usage);
    if (flags.after !== undefined) assertCursor(flags.after);
    if (flags.follow) {
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      const config = loadClientConfig();
      const json = this.jsonEnabled();
      const retryFor = flags['retry-for'];
      try {
        await followEvents(
          config.apiUrl,
          config.apiToken,
          flags.after,
          ({ id, data }) => {
            process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${id}  ${String(data.type)}  ${String(data.sessionId ?? '')}  ${String(data.key)}\n`);
          },
          stop.signal,
          retryFor === undefined ? {} : { retryForMs: retryFor * 1000 },
        );
      } catch (err) {
        if (err instanceof ApiError && err.code === 'API_UNREACHABLE') {
          throw new ApiError(err.code, `${err.message}; start the API or set AO_API_URL (\`--retry-for 0\` keeps trying)`, err.status, err.details);
        }
        throw err;
      }
      return undefined;
    }
    const query = new URLSearchParams({ limit: String(flags.limit), ...(flags.after ? { after: flags.after } : {}) });
    const { body } = await this.api().request('GET', `/api/v1/events?${query}`, { schema: z.object({ events: z.array(Event), nextCursor: z.string() }) });
    this.table(
      body.events.map((e) => ({ id: e.id, type: e.type, key: e.key, session: e.sessionId ?? '', at: e.createdAt })),
      ['id', 'type', 'session', 'key', 'at'],
    );
    return body;
  }
}
