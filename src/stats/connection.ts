import pg from 'pg';

/**
 * A pooled or dedicated node-postgres connection. Functions that need a
 * transaction check a connection out of a `Pool` themselves; a client passed
 * in must not be inside a transaction already. From drizzle, pass
 * `db.$client`.
 */
export type StatsClient = pg.Pool | pg.PoolClient | pg.Client;

export type Connection = pg.PoolClient | pg.Client;

export async function withConnection<T>(
  client: StatsClient,
  fn: (conn: Connection) => Promise<T>,
): Promise<T> {
  if (!(client instanceof pg.Pool)) return fn(client);
  const conn = await client.connect();
  let broken: Error | undefined;
  try {
    return await fn(conn);
  } catch (error) {
    // A connection whose ROLLBACK failed must not go back to the pool.
    if (error instanceof BrokenConnectionError) broken = error;
    throw error;
  } finally {
    conn.release(broken);
  }
}

class BrokenConnectionError extends Error {}

export async function inTransaction<T>(
  conn: Connection,
  begin: string,
  fn: () => Promise<T>,
): Promise<T> {
  await conn.query(begin);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    try {
      await conn.query('ROLLBACK');
    } catch {
      throw new BrokenConnectionError('ROLLBACK failed', { cause: error });
    }
    throw error;
  }
  await conn.query('COMMIT');
  return result;
}

/** int8/numeric come back as strings unless a type parser says otherwise. */
export function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : Number(value);
}
