/**
 * How every `ao` failure is shown, wherever it happens (a command, the command-not-found hook):
 * under `--json` one JSON document `{"error":{"code","message","details"}}` on stdout; otherwise
 * `ao: <message>` on stderr, with the code when it adds something, and for a usage error one line
 * saying where help is.
 */

export interface FailureView {
  code: string;
  message: string;
  details: Record<string, unknown> | null;
  /** the exit code: 2 (usage) adds the help line */
  exit: number;
  /** the command as typed (`session claim-pr`), for the help line */
  command?: string | undefined;
}

/** Codes that the message already says in words: appending them would say it twice. */
const SILENT_CODES = new Set(['ERROR', 'USAGE', 'CONFIG_INVALID', 'COMMAND_NOT_FOUND']);

/** `--json` among the arguments before a `--` (which ends the flags). */
export function argvWantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--json') return true;
  }
  return false;
}

/**
 * oclif's parser appends "See more help with --help" to its messages and puts flag-value errors on
 * an indented second line; ao adds its own help line once, so both go.
 */
export function cleanUsageMessage(message: string): string {
  return message
    .replace(/\n?See more help with --help/g, '')
    .replace(/ *\n\t/g, ': ')
    .trimEnd();
}

export function renderFailure(view: FailureView, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: { code: view.code, message: view.message, details: view.details } }, null, 2)}\n`);
    return;
  }
  const suffix = SILENT_CODES.has(view.code) ? '' : ` (${view.code})`;
  let text = `ao: ${view.message}${suffix}\n`;
  if (view.exit === 2 && view.code !== 'CONFIG_INVALID' && view.code !== 'COMMAND_NOT_FOUND') {
    text += `See more help with \`ao ${view.command ? `${view.command} ` : ''}--help\`\n`;
  }
  process.stderr.write(text);
}
