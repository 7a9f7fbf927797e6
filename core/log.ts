import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs on stderr (stdout stays for command output). */
export function createLogger(level: string, name: string): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}

/** The `(message, fields)` shape the worker modules log through. */
export function logFn(logger: Logger): (message: string, fields?: Record<string, unknown>) => void {
  return (message, fields) => logger.info(fields ?? {}, message);
}
