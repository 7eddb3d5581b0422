import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Transaction } from './queries/executor.js';
import * as schema from './schema/index.js';

/** The pool-backed database; `$client` is the pool, for work that needs a connection of its own. */
export type Database = NodePgDatabase<typeof schema> & { $client: pg.Pool };

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
  /** The first error of each client whose connection failed (see {@link handleConnectionErrors}). */
  onConnectionError?: (error: Error) => void;
}

/**
 * Gives `client` an `'error'` listener for its whole life. pg emits `'error'`
 * when a connection fails outside a query: a backend terminated while the
 * client sits idle, or idle inside a transaction between two statements, or
 * the socket closing after the query that saw the termination. An
 * EventEmitter `'error'` nobody listens to is thrown, and kills the process.
 * pg-pool listens only while a client is idle in the pool; a checked-out
 * client (a transaction, a task) is on its own. The statement that was
 * running, and any sent afterwards, still fail on their own, and pg-pool
 * discards the client when it is released, so nothing else is needed here
 * but to report it: only the first error, the others restate it.
 */
export function handleConnectionErrors(
  client: pg.ClientBase,
  onError: (error: Error) => void,
): void {
  let reported = false;
  client.on('error', (error) => {
    if (reported) return;
    reported = true;
    onError(error);
  });
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
  const { slowQueryMs = 0, onSlowQuery, onConnectionError = () => {} } = options;
  const timed = slowQueryMs > 0 && onSlowQuery !== undefined;
  class CountingClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      handleConnectionErrors(this, onConnectionError);
    }

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
  /**
   * Whether PostgreSQL may run this pool's statements with parallel workers
   * (default: as the server is set). Starting workers costs tens of
   * milliseconds, and the planner pays it even for a branch a one-time
   * filter then skips (the fallback of a name search), so a pool of short
   * request statements is better off without.
   */
  parallelWorkers?: boolean;
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
 * Every client of the pool reports a lost connection to `onConnectionError`,
 * idle or checked out, and nothing else.
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    // A request waits at most this long for a connection instead of forever.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.idleInTransactionTimeoutMs
      ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }
      : {}),
    application_name: options.applicationName ?? 'consultator-graphql',
    ...(options.parallelWorkers === false
      ? { options: '-c max_parallel_workers_per_gather=0' }
      : {}),
    Client: createCountingClientClass(options.counter, options),
  });
  // pg-pool re-emits an idle client's error on the pool, unheard a crash too;
  // the client's own listener has already reported it.
  pool.on('error', () => {});
  return pool;
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle(pool, { schema });
}

/**
 * `db.transaction(work)` on a connection checked out here and always given
 * back. drizzle's own, called on a pool, releases the client only once BEGIN
 * has succeeded: a connection lost between check-out and BEGIN (a terminated
 * backend, a restart) would hold its pool slot for good, and a few of them
 * leave every request waiting for a connection. A client whose connection
 * failed is discarded by the pool on release.
 */
export async function inTransaction<T>(
  db: Database,
  work: (tx: Transaction) => Promise<T>,
): Promise<T> {
  const client = await db.$client.connect();
  try {
    return await drizzle(client, { schema }).transaction(work);
  } finally {
    client.release();
  }
}
