import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema/index.js';

export type Database = NodePgDatabase<typeof schema>;

/**
 * Counts every statement sent by the clients built with
 * {@link createCountingClientClass}. Tests and benchmarks read it to prove
 * batching (statements per page) and idleness (no statements while nothing
 * changes); metrics export it.
 */
export class SqlStatementCounter {
  total = 0;
  private readonly listeners = new Set<(text: string) => void>();

  record(text: string): void {
    this.total += 1;
    for (const listener of this.listeners) listener(text);
  }

  /** Calls `listener` with each statement's text until the returned function is called. */
  observe(listener: (text: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function statementText(args: unknown[]): string {
  const first = args[0];
  if (typeof first === 'string') return first;
  if (first && typeof first === 'object' && 'text' in first) return String(first.text);
  return '<unknown>';
}

export interface CountingClientOptions {
  /** Statements slower than this many ms are reported to `onSlowQuery`; 0 or absent disables. */
  slowQueryMs?: number;
  onSlowQuery?: (slow: { statement: string; ms: number }) => void;
}

/** Enough of a statement to recognise it in a log line; parameters are never included. */
const SLOW_QUERY_TEXT_LENGTH = 300;

/**
 * A `pg.Client` subclass that reports each `query()` to a counter. Counting at
 * the driver rather than in drizzle's logger also catches raw statements
 * (LISTEN, COPY, migrations) and anything a library issues on our behalf.
 */
export function createCountingClientClass(
  counter: SqlStatementCounter,
  options: CountingClientOptions = {},
): typeof pg.Client {
  const { slowQueryMs = 0, onSlowQuery } = options;
  const timed = slowQueryMs > 0 && onSlowQuery !== undefined;
  class CountingClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg.Client.query has many overloads; this forwards them unchanged.
    override query(...args: any[]): any {
      const text = statementText(args);
      counter.record(text);
      if (!timed) {
        // biome-ignore lint/suspicious/noExplicitAny: see above.
        return (super.query as any)(...args);
      }
      const started = performance.now();
      const done = () => {
        const ms = performance.now() - started;
        if (ms >= slowQueryMs) {
          onSlowQuery?.({
            statement: text.replace(/\s+/g, ' ').slice(0, SLOW_QUERY_TEXT_LENGTH),
            ms: Math.round(ms),
          });
        }
      };
      // pg.Pool calls with a callback; drizzle on a checked-out client and most code use the promise.
      const callback = args.at(-1);
      if (typeof callback === 'function') {
        args[args.length - 1] = (...results: unknown[]) => {
          done();
          return callback(...results);
        };
      }
      // biome-ignore lint/suspicious/noExplicitAny: see above.
      const result = (super.query as any)(...args);
      // Streams (COPY, cursors) are not timed: they run as long as their consumer.
      if (typeof callback !== 'function' && result && typeof result.then === 'function') {
        // A derived promise with both handlers: it never turns into an unhandled rejection.
        result.then(done, done);
      }
      return result;
    }
  }
  return CountingClient;
}

export interface PoolOptions extends CountingClientOptions {
  connectionString: string;
  max: number;
  counter: SqlStatementCounter;
  applicationName?: string;
  /** How long a request waits for a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Server-side `statement_timeout` of every pooled session; 0 or absent: none. */
  statementTimeoutMs?: number;
  /** Server-side `idle_in_transaction_session_timeout`; 0 or absent: none. */
  idleInTransactionTimeoutMs?: number;
}

/** `url` with its database name replaced: the same server, credentials and options, another database. */
export function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * Builds the shared pool. It opens no connection until the first query.
 * The timeouts are session settings sent at connection start-up, so a runaway
 * statement or a transaction left open by a bug is ended by the server itself.
 */
export function createPool(options: PoolOptions): pg.Pool {
  return new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    // A request waits at most this long for a connection instead of forever.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.idleInTransactionTimeoutMs
      ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }
      : {}),
    application_name: options.applicationName ?? 'consultator-graphql',
    Client: createCountingClientClass(options.counter, options),
  });
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle(pool, { schema });
}
