import { sanitize, sanitizeString } from './sanitize';

/** The pino-shaped logger byok accepts (pino, or anything with these three methods). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** A logger that drops everything; the default. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** Wraps a host logger so every object and message is sanitised before it is written. */
export function safeLogger(logger: Logger = silentLogger): Logger {
  const wrap =
    (level: 'info' | 'warn' | 'error' | 'debug') =>
    (obj: object, msg?: string): void => {
      const fn = logger[level];
      if (!fn) return;
      fn.call(logger, sanitize(obj) as object, msg === undefined ? undefined : sanitizeString(msg));
    };
  return { info: wrap('info'), warn: wrap('warn'), error: wrap('error'), debug: wrap('debug') };
}
