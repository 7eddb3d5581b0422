import type pg from 'pg';

/** Whether the database answers a trivial query within `timeoutMs` (what `/ready` reports). */
export async function isDatabaseReachable(pool: pg.Pool, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('database check timed out')), timeoutMs);
  });
  try {
    await Promise.race([pool.query('SELECT 1'), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Fraction of the NOTIFY queue in use; undefined when the database cannot answer. */
export async function readNotificationQueueUsage(pool: pg.Pool): Promise<number | undefined> {
  try {
    const { rows } = await pool.query<{ usage: number }>(
      'SELECT pg_notification_queue_usage() AS usage',
    );
    return rows[0]?.usage;
  } catch {
    return undefined;
  }
}
