import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { withDatabaseName } from '../../src/db/client.js';

export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  name: string;
  /** Drops the database, closing whatever is still connected to it. Idempotent. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Migrated but without any row (default: the seeded demo set). */
  empty?: boolean;
}

/** Runs `work` on a short-lived connection of its own to `url`. */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
  applicationName = 'consultator-test',
): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  // A backend terminated by a cleanup's DROP DATABASE must not become an unhandled error.
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A write committed straight in PostgreSQL, as another application sharing
 * the database would: one AVAILABLE consultant in the first practice.
 */
export async function insertAvailableConsultant(databaseUrl: string, email: string): Promise<void> {
  await withClient(databaseUrl, (client) =>
    client.query(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
       VALUES ('Dana', 'Example', $1, (SELECT min(id) FROM practices), 'SENIOR', 850, 'AVAILABLE')`,
      [email],
    ),
  );
}

/** Runs `work` on a short-lived connection to the server's admin database. */
export function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(inject('testDatabaseAdminUrl'), work, 'consultator-test-admin');
}

let created = 0;

/**
 * A database of the caller's own, cloned from the run's template (see
 * global-setup.ts), so test files can run in parallel and change data freely.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const template = options.empty
    ? inject('testDatabaseEmptyTemplate')
    : inject('testDatabaseTemplate');
  created += 1;
  const name = `${inject('testDatabasePrefix')}${process.pid}_${created}_${randomBytes(2).toString('hex')}`;
  await withAdminClient((client) =>
    client.query(
      `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`,
    ),
  );
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: withDatabaseName(inject('testDatabaseAdminUrl'), name),
    drop() {
      dropped ??= withAdminClient(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

/**
 * A pool on a test database for the tests' own SQL (the reference answers
 * and fixtures): deliberately not the server's pool, so its statements never
 * show in the server's statement counter.
 */
export function createTestPool(
  url: string,
  options: { max?: number; applicationName?: string } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 2,
    application_name: options.applicationName ?? 'consultator-test',
  });
  // pg-pool's end() resolves before its sockets have closed, and cleanups drop
  // databases WITH (FORCE): a backend terminated in that window reports an
  // error on an idle client, which an unheard pool would rethrow as an
  // uncaught exception. A query that actually fails still rejects on its own.
  pool.on('error', () => {});
  return pool;
}
