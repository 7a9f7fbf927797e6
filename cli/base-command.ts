import { Command, Errors } from '@oclif/core';
import { ConfigError, loadClientConfig } from '../core/config.js';
import { ApiClient, ApiError } from './api-client.js';
import { argvWantsJson, cleanUsageMessage, renderFailure } from './failure-output.js';

/**
 * Exit codes of every `ao` command (shown in help): 0 success, 1 failure, 2 usage,
 * 3 a wait that timed out (the job goes on; rerun to attach), 4 a failed compensation.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, timeout: 3, compensationFailed: 4 } as const;

export const EXIT_HELP = 'Exit codes: 0 success, 1 failure, 2 usage, 3 wait timed out (the job goes on), 4 compensation failed.';

/** A failure with a stable code and its exit code. */
export class CliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exit: number = EXIT.failure,
    readonly details: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

/**
 * Every command: `--json` prints one JSON document on stdout (errors too, with their code);
 * human output otherwise; progress on stderr. Errors keep their exit code in both modes
 * (oclif loses it under --json, oclif/core#1423).
 */
export abstract class AoCommand extends Command {
  static override enableJsonFlag = true;

  private client: ApiClient | undefined;

  protected api(): ApiClient {
    if (!this.client) {
      const config = loadClientConfig();
      this.client = new ApiClient(config.apiUrl, config.apiToken);
    }
    return this.client;
  }

  /** A human line on stdout (nothing under --json). */
  protected say(line: string): void {
    this.log(line);
  }

  /** Progress on stderr, never under --json. */
  protected progress(line: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${line}\n`);
  }

  protected table(rows: Array<Record<string, string>>, columns: string[]): void {
    if (rows.length === 0) return this.say('(none)');
    const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
    const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    this.say(line(columns.map((c) => c.toUpperCase())));
    for (const row of rows) this.say(line(columns.map((c) => row[c] ?? '')));
  }

  /** `--json` given: also for the few commands without the flag, so their usage errors are JSON too. */
  protected wantsJson(): boolean {
    return this.jsonEnabled() || argvWantsJson(this.argv);
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    let code = 'ERROR';
    let exit: number = err.oclif?.exit ?? err.exitCode ?? EXIT.failure;
    let details: Record<string, unknown> | null = null;
    let message = err.message;
    if (err instanceof ApiError) {
      code = err.code;
      // the API refuses a value the user gave the CLI (a flag, an argument): a usage error
      exit = err.code === 'VALIDATION_FAILED' ? EXIT.usage : EXIT.failure;
      details = err.details;
    } else if (err instanceof CliFailure) {
      code = err.code;
      exit = err.exit;
      details = err.details;
    } else if (err instanceof ConfigError) {
      code = 'CONFIG_INVALID';
      exit = EXIT.usage;
      details = { problems: err.problems };
    } else if (exit === EXIT.usage) {
      code = 'USAGE';
      message = cleanUsageMessage(message);
    }
    renderFailure({ code, message, details, exit, command: this.id?.replaceAll(':', ' ') }, this.wantsJson());
    return this.exit(exit);
  }
}
