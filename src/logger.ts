import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Builds the process logger. Tokens and passwords never reach a log line:
 * the authorization header and connection strings are redacted at the source.
 */
export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.password', 'databaseUrl'],
      censor: '[redacted]',
    },
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l' } } }
      : {}),
  });
}
