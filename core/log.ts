import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs on stderr (stdout stays for command output). Written asynchronously, so a slow
 * or blocked stderr (a pipe nobody reads fast enough) never stalls the event loop; pino flushes
 * what is buffered when the process exits.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}

/** The `(message, fields)` shape the worker modules log through. */
export function logFn(logger: Logger): (message: string, fields?: Record<string, unknown>) => void {
  return (message, fields) => logger.info(fields ?? {}, message);
}
