import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat } from './config.js';

export type { Logger };

/**
 * Structured logs on stderr (stdout stays for command output). Written asynchronously, so a slow
 * or blocked stderr (a pipe nobody reads fast enough) never stalls the event loop; pino flushes
 * what is buffered when the process exits. On a terminal (AO_LOG_FORMAT auto) each entry is one
 * readable line instead of pino's JSON, which stays the format for pipes and log collectors.
 */
export function createLogger(level: string, name: string, format: LogFormat = 'auto'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  const json = pino.destination({ dest: 2, sync: false });
  return pino({ name, level, base: { pid: process.pid } }, pretty ? readable(json) : json);
}

/** The `(message, fields)` shape the worker modules log through. */
export function logFn(logger: Logger): (message: string, fields?: Record<string, unknown>) => void {
  return (message, fields) => logger.info(fields ?? {}, message);
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** what every entry carries and the readable line says otherwise (or not at all) */
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component']);

/** `12:04:05 INFO  api  message  key=value …`, written through pino's own async destination. */
function readable(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      out.write(`${formatEntry(line)}\n`);
    },
  };
}

export function formatEntry(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : '';
  const level = (LEVEL_NAMES[Number(entry.level)] ?? String(entry.level)).padEnd(5);
  const who = typeof entry.component === 'string' ? entry.component : typeof entry.name === 'string' ? entry.name : '';
  const fields = Object.entries(entry)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/[\s"]/.test(value) ? value : JSON.stringify(value)}`);
  return [time, level, who, String(entry.msg ?? ''), ...fields].filter((part) => part !== '').join('  ');
}
