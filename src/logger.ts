import { DrizzleQueryError } from 'drizzle-orm';
import pg from 'pg';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Enough of a statement to recognise it in a log line. */
const STATEMENT_TEXT_LENGTH = 300;

/**
 * PostgreSQL puts values in some messages (`invalid input syntax for type
 * integer: "alice@example.com"`, `value "…" is out of range`): every quoted
 * part goes. Identifiers go too; the error's table, column and constraint
 * fields (kept) and the statement text say which they were.
 */
const withoutQuoted = (message: string) => message.replace(/"[^"]*"/g, '"…"');

/**
 * The `err` serializer of every log line. Errors of failed statements carry
 * the client's data: drizzle's message and `params` hold every parameter,
 * and PostgreSQL's `detail` (`Key (email)=(alice@example.com) already
 * exists`, `Failing row contains (…)`) and `where` (`unnamed portal
 * parameter $1 = '…'`) repeat values. Those never reach a log line, whoever
 * logs the error: the statement text, the error code and the names of what
 * failed are kept.
 */
export function serializeError(error: unknown): unknown {
  if (error instanceof DrizzleQueryError) {
    return {
      type: 'DrizzleQueryError',
      message: 'database query failed',
      statement: error.query.replace(/\s+/g, ' ').slice(0, STATEMENT_TEXT_LENGTH),
      cause: serializeError(error.cause),
    };
  }
  if (error instanceof pg.DatabaseError) {
    const message = withoutQuoted(error.message);
    return {
      type: 'DatabaseError',
      message,
      // Its first line repeats the message.
      stack: error.stack?.replaceAll(error.message, message),
      code: error.code,
      severity: error.severity,
      schema: error.schema,
      table: error.table,
      column: error.column,
      constraint: error.constraint,
      routine: error.routine,
    };
  }
  if (!(error instanceof Error)) return error;
  // Not pino's standard serializer: it folds the causes' messages into this one's.
  const serialized: Record<string, unknown> = {
    type: error.constructor?.name ?? 'Error',
    message: error.message,
    stack: error.stack,
  };
  for (const [key, value] of Object.entries(error)) {
    if (key !== 'cause' && !(key in serialized)) serialized[key] = value;
  }
  if (error instanceof AggregateError) serialized.errors = error.errors.map(serializeError);
  if (error.cause !== undefined) serialized.cause = serializeError(error.cause);
  return serialized;
}

/**
 * Builds the process logger. Tokens and passwords never reach a log line:
 * the authorization header and connection strings are redacted at the
 * source, and errors of failed statements lose their parameter values
 * ({@link serializeError}).
 */
export function createLogger(
  level: string,
  options: { pretty?: boolean; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.password', 'databaseUrl'],
        censor: '[redacted]',
      },
      serializers: { err: serializeError },
      ...(options.pretty
        ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l' } } }
        : {}),
    },
    ...(options.destination ? [options.destination] : []),
  );
}
