import type pg from 'pg';

/**
 * The change-notification contract between the database (triggers of
 * migration `drizzle/0003_stats_triggers.sql`, and the folds of
 * `src/stats/fold.ts`) and every listener. It lives next to the database
 * because the SQL defines it; change detection (src/changes/) and the stats
 * slice (src/stats/) both build on it.
 *
 * **Channel:** {@link CHANGES_CHANNEL}.
 *
 * **Payload:** exactly the name of a table that may have changed, one of
 * {@link CHANGE_TABLES} — never row data, ids or JSON. Row data would not
 * fit (NOTIFY payloads are limited to 8000 bytes), and a constant payload is
 * what lets PostgreSQL coalesce them: notifications with the same channel
 * and payload raised in one transaction are delivered once, so a transaction
 * sends **at most one notification per table**, however many statements or
 * rows it writes. Statements that touch no row send nothing, and nothing is
 * delivered for a transaction that rolls back.
 *
 * **Who sends them.** Every NOTIFY makes its transaction take a cluster-wide
 * lock at commit, held through the commit's WAL flush, so notifying writers
 * commit one at a time. To keep concurrent writers concurrent, a writing
 * transaction notifies only when no fold of the stats deltas is due; while
 * one is, it stays silent, and the fold announces its tables instead (a fold
 * notifies every table whose deltas it consumed, plus the tables of silent
 * writers it may have missed). `documents`, which feeds no statistic, always
 * notifies. So:
 * - a notification may come from a writer or from a fold, a little after
 *   the write (one fold cycle) in the second case;
 * - **after a notification of any table but `documents`, the server must
 *   fold** (`readDashboardStats` or `foldStatsDeltas`, coalesced as it
 *   likes), or silent writers would go unannounced; if folds stop for 2 s,
 *   writers notify again.
 *
 * Delivery happens at commit, in commit order, to the sessions listening at
 * that moment. A listener that was disconnected misses what was sent in the
 * meantime and must resynchronise (flush caches, fold, recompute) after it
 * re-LISTENs. Treat a notification as "this table may have changed", never
 * as a count of changes.
 */
export const CHANGES_CHANNEL = 'consultator_changes';

/** Tables whose writes are announced on {@link CHANGES_CHANNEL}. */
export const CHANGE_TABLES = [
  'practices',
  'skills',
  'consultants',
  'consultant_skills',
  'missions',
  'documents',
] as const;

/** A notification payload: the name of the table that changed. */
export type ChangeTable = (typeof CHANGE_TABLES)[number];

const changeTables: ReadonlySet<string> = new Set(CHANGE_TABLES);

/**
 * Reads a notification payload from {@link CHANGES_CHANNEL}.
 *
 * @returns the table that changed, or `null` for a payload outside the
 *   contract (a newer schema's table, a hand-written NOTIFY): callers should
 *   then assume anything may have changed rather than ignore it.
 */
export function parseChangePayload(payload: string): ChangeTable | null {
  return changeTables.has(payload) ? (payload as ChangeTable) : null;
}

/** Anything node-postgres can run a statement on. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

/** Trigger names created by drizzle/0003_stats_triggers.sql, per table. */
const CHANGE_TRIGGER_EVENTS = ['ins', 'upd', 'del', 'trunc'] as const;

export const CHANGE_TRIGGER_NAMES: readonly string[] = CHANGE_TABLES.flatMap((table) =>
  CHANGE_TRIGGER_EVENTS.map((event) => `${table}_changes_${event}`),
);

/**
 * Which change triggers are missing or disabled. `notify` change detection
 * and the incremental statistics (src/stats/) depend on all of them; `auto` mode can fall
 * back to polling when this is not empty.
 */
export async function checkChangeTriggers(
  client: Queryable,
): Promise<{ ok: boolean; missing: string[] }> {
  const result = await client.query<{ name: string }>(
    `SELECT t.name
     FROM unnest($1::text[]) AS t(name)
     WHERE NOT EXISTS (
       SELECT 1 FROM pg_trigger tg
       WHERE tg.tgname = t.name
         AND tg.tgrelid = to_regclass(split_part(t.name, '_changes_', 1))
         AND tg.tgenabled <> 'D')
     ORDER BY t.name`,
    [CHANGE_TRIGGER_NAMES],
  );
  const missing = result.rows.map((row) => row.name);
  return { ok: missing.length === 0, missing };
}
