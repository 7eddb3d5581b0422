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

/**
 * A `pg.Client` subclass that reports each `query()` to a counter. Counting at
 * the driver rather than in drizzle's logger also catches raw statements
 * (LISTEN, COPY, migrations) and anything a library issues on our behalf.
 */
export function createCountingClientClass(counter: SqlStatementCounter): typeof pg.Client {
  class CountingClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg.Client.query has many overloads; this forwards them unchanged.
    override query(...args: any[]): any {
      counter.record(statementText(args));
      // biome-ignore lint/suspicious/noExplicitAny: see above.
      return (super.query as any)(...args);
    }
  }
  return CountingClient;
}

export interface PoolOptions {
  connectionString: string;
  max: number;
  counter: SqlStatementCounter;
  applicationName?: string;
}

/** Builds the shared pool. It opens no connection until the first query. */
export function createPool(options: PoolOptions): pg.Pool {
  return new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    // A request waits at most this long for a connection instead of forever.
    connectionTimeoutMillis: 10_000,
    application_name: options.applicationName ?? 'consultator-graphql',
    Client: createCountingClientClass(options.counter),
  });
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle(pool, { schema });
}
