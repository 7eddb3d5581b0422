import type pg from 'pg';

/**
 * The change-notification contract between the database (the triggers of
 * `drizzle/0003_stats_triggers.sql` and the `stats_fold` function of
 * `drizzle/0008_stats_fold_function.sql`) and every listener. It lives next
 * to the database because the SQL defines it; change detection
 * (src/changes/) and the stats slice (src/stats/) both build on it.
 *
 * **Channel:** {@link CHANGES_CHANNEL}. Two payloads:
 *
 * - **`<table>`** (a writer's): exactly the name of a table that may have
 *   changed, one of {@link CHANGE_TABLES}. A constant payload is what lets
 *   PostgreSQL coalesce them: notifications with the same channel and
 *   payload raised in one transaction are delivered once, so a transaction
 *   sends **at most one notification per table**, however many statements
 *   or rows it writes. Statements that touch no row send nothing, and
 *   nothing is delivered for a transaction that rolls back.
 * - **`folded:<version>:<table>,<table>…[:window]`** (a fold's, see
 *   {@link parseChangePayload}): a fold consumed the deltas of those tables
 *   and published the snapshot at `<version>` (a decimal bigint) in
 *   `stats_state.snapshot`; `:window` when writers may stay silent until
 *   its instance folds again. Sent once per fold that consumed deltas.
 *
 * Never row data, ids or JSON: NOTIFY payloads are limited to 8000 bytes.
 *
 * **Who sends them.** Every NOTIFY makes its transaction take a cluster-wide
 * lock at commit, held through the commit's WAL flush, so notifying writers
 * commit one at a time. To keep concurrent writers concurrent during a
 * burst, a writer stays silent while an API instance has promised to fold
 * again soon (the wake-up window, docs/live-stats.md), and that fold
 * announces their tables instead. `documents`, which feeds no statistic,
 * always notifies. So:
 * - **after a `<table>` notification of any table but `documents`, the
 *   server must fold** (coalesced as it likes);
 * - after a `folded:` notification it need not: the snapshot at that version
 *   is published, and the tables listed may have changed (caches).
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

/** What a notification on {@link CHANGES_CHANNEL} says. */
export type ChangeNotice =
  | { kind: 'table'; table: ChangeTable }
  | { kind: 'folded'; version: string; tables: ChangeTable[]; windowOpen: boolean };

const FOLDED_PAYLOAD = /^folded:(\d+):([a-z_,]*)(:window)?$/;

/**
 * Reads a notification payload from {@link CHANGES_CHANNEL}.
 *
 * @returns what it announces, or `null` for a payload outside the contract
 *   (a newer schema's table, a hand-written NOTIFY): callers should then
 *   assume anything may have changed rather than ignore it.
 */
export function parseChangePayload(payload: string): ChangeNotice | null {
  if (changeTables.has(payload)) return { kind: 'table', table: payload as ChangeTable };
  const folded = FOLDED_PAYLOAD.exec(payload);
  if (!folded) return null;
  const tables = folded[2] ? folded[2].split(',') : [];
  if (!tables.every((table) => changeTables.has(table))) return null;
  return {
    kind: 'folded',
    version: folded[1] as string,
    tables: tables as ChangeTable[],
    windowOpen: folded[3] !== undefined,
  };
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
