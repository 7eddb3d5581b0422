import { CHANGES_CHANNEL, type ChangeTable } from '../db/change-contract.js';
import {
  type Connection,
  inTransaction,
  num,
  type StatsClient,
  withConnection,
} from './connection.js';
import {
  type DashboardStatsOptions,
  type DashboardStatsSnapshot,
  readSnapshot,
  SUMMARY_SOURCES,
  topSkillsLimit,
} from './snapshot.js';

/*
 * Live dashboard statistics: SQL over the summary tables of
 * src/db/schema/stats.ts and the triggers of drizzle/0003_stats_triggers.sql.
 *
 * Invariant, true in every MVCC snapshot: summary tables + visible rows of
 * stats_deltas = aggregates of the base tables. Writers add base rows and
 * their deltas in one transaction; a fold moves deltas into the summary in
 * one transaction. So nothing here ever needs to block a writer.
 *
 * Notifications: writers notify only when no fold is due, and every fold
 * notifies the tables it folded (see the migration's header for the
 * protocol). The consequence for the server: after any notification of a
 * stats table, fold (readDashboardStats or foldStatsDeltas), coalesced as it
 * likes; every function here that folds also runs the post-fold check that
 * keeps silent writers from being missed.
 */

/**
 * Serializes folds and rebuilds across every API instance on the database.
 * Any constant works as long as every instance uses the same one; it sits
 * next to the migration lock (7_312_004_211) to be easy to recognise in
 * pg_locks.
 */
export const STATS_LOCK_KEY = 7_312_004_212;

export interface FoldResult {
  /** Delta rows consumed. */
  deltas: number;
  /** Whether the snapshot changed, i.e. the version was bumped. */
  changed: boolean;
  /** The version after the fold. */
  version: string;
  /** Tables whose deltas were folded; each was notified at the fold's commit. */
  tables: ChangeTable[];
  /**
   * Tables notified after a fold that found nothing, for writers that stayed
   * silent and may still be running (or committed since): another fold will
   * follow, since every instance receives the notification. Always empty
   * after a fold that consumed deltas: its own notifications do that job.
   */
  woken: ChangeTable[];
}

/** `stats_deltas.kind` → table (src/db/schema/stats.ts, StatsDeltaKind). */
export const KIND_TABLES_SQL = `(VALUES (1, 'consultants'), (2, 'missions'), (3, 'consultant_skills'),
  (4, 'practices'), (5, 'skills')) AS kind_tables (kind, name)`;

/** First key of the writers' marker locks, `pg_advisory_xact_lock_shared(7312004, kind)`. */
const MARKER_LOCK_CLASS = 7_312_004;

/** How long writers may stay silent after a fold that consumed deltas. */
export const REFOLD_WINDOW = '2 seconds';

// One statement, so a fold is one round trip between BEGIN and COMMIT. The
// DELETE…RETURNING feeds the upserts through CTEs, so the deltas consumed
// are exactly the ones applied, and the notifications name exactly their
// tables (sent when the transaction commits). Touch rows (NULL group
// columns) only notify. Groups are upserted in key order; with the advisory
// lock that is belt and braces against deadlocks. sum(bigint) is numeric,
// hence the casts. SELECT CTEs run only when referenced, hence the count
// over `notified`.
//
// stats_state: a fold that consumed deltas sets refold_expected_until (its
// own notifications will trigger another fold, so writers may stay silent
// until then); a fold that found nothing clears it, so the next writer
// notifies. The version moves only when an aggregate (or a practice or skill
// row) did. Groups that drop to zero stay (at most practices × 3 + 4 +
// skills rows, and reads skip them).
const FOLD_SQL = `
WITH folded AS (
  DELETE FROM stats_deltas
  RETURNING kind, practice_id, availability, status, skill_id, count_delta, sum_delta
),
consultant_groups AS (
  INSERT INTO stats_consultant_groups AS g (practice_id, availability, consultants, daily_rate_sum)
  SELECT practice_id, availability, sum(count_delta)::bigint, sum(sum_delta)::bigint
  FROM folded WHERE kind = 1 AND practice_id IS NOT NULL
  GROUP BY practice_id, availability
  HAVING sum(count_delta) <> 0 OR sum(sum_delta) <> 0
  ORDER BY practice_id, availability
  ON CONFLICT (practice_id, availability) DO UPDATE
  SET consultants = g.consultants + excluded.consultants,
      daily_rate_sum = g.daily_rate_sum + excluded.daily_rate_sum
  RETURNING 1
),
mission_groups AS (
  INSERT INTO stats_mission_groups AS g (status, missions, daily_rate_sum)
  SELECT status, sum(count_delta)::bigint, sum(sum_delta)::bigint
  FROM folded WHERE kind = 2 AND status IS NOT NULL
  GROUP BY status
  HAVING sum(count_delta) <> 0 OR sum(sum_delta) <> 0
  ORDER BY status
  ON CONFLICT (status) DO UPDATE
  SET missions = g.missions + excluded.missions,
      daily_rate_sum = g.daily_rate_sum + excluded.daily_rate_sum
  RETURNING 1
),
skill_groups AS (
  INSERT INTO stats_skill_groups AS g (skill_id, consultants)
  SELECT skill_id, sum(count_delta)::bigint
  FROM folded WHERE kind = 3 AND skill_id IS NOT NULL
  GROUP BY skill_id
  HAVING sum(count_delta) <> 0
  ORDER BY skill_id
  ON CONFLICT (skill_id) DO UPDATE
  SET consultants = g.consultants + excluded.consultants
  RETURNING 1
),
notified AS (
  SELECT kind_tables.name, pg_notify('${CHANGES_CHANNEL}', kind_tables.name)
  FROM (SELECT DISTINCT kind FROM folded) AS k
  JOIN ${KIND_TABLES_SQL} USING (kind)
),
counts AS (
  SELECT
    (SELECT count(*) FROM folded) AS deltas,
    (SELECT count(*) FROM consultant_groups)
      + (SELECT count(*) FROM mission_groups)
      + (SELECT count(*) FROM skill_groups)
      + (SELECT count(*) FROM folded WHERE kind IN (4, 5)) AS changes
),
state AS (
  UPDATE stats_state AS s
  SET version = s.version + CASE WHEN c.changes > 0 THEN 1 ELSE 0 END,
    folded_at = CASE WHEN c.deltas > 0 THEN clock_timestamp() ELSE s.folded_at END,
    refold_expected_until =
      CASE WHEN c.deltas > 0 THEN clock_timestamp() + interval '${REFOLD_WINDOW}' END
  FROM counts AS c
  WHERE s.id = 1 AND (c.deltas > 0 OR s.refold_expected_until IS NOT NULL)
  RETURNING s.version
)
SELECT c.deltas, c.changes > 0 AS changed,
  coalesce((SELECT version FROM state), (SELECT version FROM stats_state WHERE id = 1))::text
    AS version,
  (SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM notified) AS tables,
  pg_stat_get_dead_tuples('stats_deltas'::regclass) AS dead_deltas
FROM counts AS c`;

export interface Folded {
  deltas: number;
  changed: boolean;
  version: string;
  tables: ChangeTable[];
  /** Dead rows in stats_deltas per the statistics counters (see afterFold). */
  deadDeltas: number;
}

/** Must run inside a transaction on `conn`. */
export async function foldLocked(conn: Connection): Promise<Folded> {
  // Waiting (rather than pg_try_advisory_xact_lock and skipping) matters: a
  // caller that folds and then reads must see every delta committed before
  // it started, including those another instance is folding right now.
  await conn.query('SELECT pg_advisory_xact_lock($1)', [STATS_LOCK_KEY]);
  const result = await conn.query<{
    deltas: string;
    changed: boolean;
    version: string | null;
    tables: ChangeTable[];
    dead_deltas: string;
  }>(FOLD_SQL);
  const row = result.rows[0];
  if (!row?.version) throw new Error('stats_state has no row: run the migrations');
  return {
    deltas: num(row.deltas),
    changed: row.changed,
    version: row.version,
    tables: row.tables,
    deadDeltas: num(row.dead_deltas),
  };
}

// Markers of silent writers still running, and whether each kind has one
// whose transaction is young (likely to commit any moment). The activity
// function hides other roles' xact_start unless the role may read all
// statistics: unknown ages count as young (no throttling, just more folds).
const MARKERS_SQL = `
SELECT
  coalesce((SELECT json_agg(m) FROM (
    SELECT l.objid::int AS kind,
      bool_or(a.xact_start IS NULL OR a.xact_start > clock_timestamp() - interval '1 second') AS young
    FROM pg_locks l
    LEFT JOIN LATERAL pg_stat_get_activity(l.pid) a ON true
    WHERE l.locktype = 'advisory' AND l.classid = ${MARKER_LOCK_CLASS} AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    GROUP BY l.objid) AS m), '[]') AS markers`;

// Wakes (notifies) the tables of deltas left over, of young markers, and —
// at most once a second across all instances, via stats_state.woken_at — of
// old markers (an idle-in-transaction writer must not make every instance
// fold 20 times a second until it ends).
const WAKE_SQL = `
WITH throttle AS (
  UPDATE stats_state SET woken_at = clock_timestamp()
  WHERE id = 1 AND cardinality($2::int[]) > 0 AND woken_at < clock_timestamp() - interval '1 second'
  RETURNING 1
),
kinds AS (
  SELECT DISTINCT kind FROM stats_deltas
  UNION SELECT unnest($1::int[])
  UNION SELECT unnest($2::int[]) WHERE EXISTS (SELECT 1 FROM throttle)
)
SELECT kind_tables.name, pg_notify('${CHANGES_CHANNEL}', kind_tables.name)
FROM kinds JOIN ${KIND_TABLES_SQL} USING (kind)
ORDER BY kind_tables.name`;

/**
 * The folder's half of the wake-up protocol (see the header of
 * drizzle/0003_stats_triggers.sql): after a fold that found nothing has
 * committed, notify the tables of silent writers it may have missed. (After
 * a fold that consumed deltas there is nothing to do: its own notifications
 * make another fold follow, which does this check if it is the last.)
 * Markers must be read before the deltas (two statements, two snapshots): a
 * silent writer that is no longer marked has committed, so the second
 * statement sees its deltas.
 */
async function wakePending(conn: Connection): Promise<ChangeTable[]> {
  const status = await conn.query<{ markers: { kind: number; young: boolean }[] }>(MARKERS_SQL);
  const markers = status.rows[0]?.markers ?? [];
  const young = markers.filter((row) => row.young).map((row) => row.kind);
  const old = markers.filter((row) => !row.young).map((row) => row.kind);
  const woken = await conn.query<{ name: ChangeTable }>(WAKE_SQL, [young, old]);
  return woken.rows.map((row) => row.name);
}

/** Dead delta rows that make a fold VACUUM stats_deltas (about 1.5 MB of heap). */
const DELTAS_VACUUM_THRESHOLD = 20_000;

/**
 * What follows every committed fold, on the same connection, outside any
 * transaction: the wake-up check after an empty fold, and VACUUM of
 * stats_deltas when due.
 *
 * Why the folder vacuums: every fold scans the whole heap of stats_deltas
 * and leaves its rows dead, so without VACUUM the fold's cost would grow with
 * the number of writes ever made. Autovacuum may be off or busy (it is off on
 * the development server), so once enough dead rows have piled up (per the
 * statistics counters, which may lag by a few seconds) the folder vacuums
 * the table itself. SKIP_LOCKED: when another instance is already at it,
 * skip. TRUNCATE false: giving empty pages back to the OS needs an ACCESS
 * EXCLUSIVE lock that concurrent writers never leave free, and VACUUM keeps
 * retrying for up to 5 s (seen in the benchmark: a 1.9 s fold, during which
 * writers fell back to notifying). A role that does not own the table gets a
 * warning and nothing happens; it then depends on autovacuum.
 */
export async function afterFold(conn: Connection, folded: Folded): Promise<ChangeTable[]> {
  const woken = folded.deltas === 0 ? await wakePending(conn) : [];
  if (folded.deadDeltas >= DELTAS_VACUUM_THRESHOLD) {
    await conn.query('VACUUM (SKIP_LOCKED, TRUNCATE false) stats_deltas');
  }
  return woken;
}

/**
 * Applies every committed delta in `stats_deltas` to the summary tables, in
 * one transaction, and bumps `stats_state.version` by one if any aggregate
 * (or a practice/skill row) changed. Sends one notification on
 * `CHANGES_CHANNEL` per table whose deltas it folded, so every API instance
 * learns what changed whoever folds; then wakes the tables of writers that
 * may have been missed (see {@link FoldResult.woken}).
 *
 * **Obligation of the caller:** writers stay silent while a fold is due, so
 * after every notification of a stats table (practices, skills, consultants,
 * consultant_skills, missions) some fold — this, or
 * {@link readDashboardStats} — must follow (coalescing is fine). If folds
 * stop or keep failing, writers start notifying again after 2 s.
 *
 * Concurrency: the fold holds a transaction-level advisory lock, so folds
 * from several API instances run one after the other and each delta is
 * applied exactly once (a later folder's DELETE takes its snapshot after the
 * earlier fold committed). Folders never lock base tables and writers never
 * touch summary rows, so there is no lock cycle with writers; only one
 * transaction at a time updates summary rows, so none with other folders.
 *
 * Why the version is a counter and not the largest folded delta id: ids come
 * from a sequence at insert time, not at commit, so a fold can consume a
 * delta whose id is lower than one an earlier fold consumed.
 */
export async function foldStatsDeltas(client: StatsClient): Promise<FoldResult> {
  return withConnection(client, async (conn) => {
    const folded = await inTransaction(conn, 'BEGIN', () => foldLocked(conn));
    const woken = await afterFold(conn, folded);
    return {
      deltas: folded.deltas,
      changed: folded.changed,
      version: folded.version,
      tables: folded.tables,
      woken,
    };
  });
}

/**
 * The dashboard snapshot, from the summary tables: folds pending deltas
 * first, then reads, in one transaction under the fold lock (so the version
 * and the numbers belong together even while another instance folds).
 *
 * Cost does not depend on table sizes: it reads the deltas committed since
 * the last fold, the summary tables (at most practices × 3 + 4 + skills
 * rows), practices and skills. Call it once per (coalesced) change, not per
 * subscriber.
 *
 * Like {@link foldStatsDeltas}, it notifies the tables it folded and wakes
 * silent writers after committing.
 *
 * Only meaningful while the change triggers are installed and enabled
 * (`checkChangeTriggers`); without them (poll mode) use
 * {@link computeDashboardStatsFromScratch}.
 */
export async function readDashboardStats(
  client: StatsClient,
  options: DashboardStatsOptions = {},
): Promise<DashboardStatsSnapshot> {
  const topSkills = topSkillsLimit(options);
  return withConnection(client, async (conn) => {
    let folded: Folded | undefined;
    const snapshot = await inTransaction(conn, 'BEGIN', async () => {
      folded = await foldLocked(conn);
      return readSnapshot(conn, SUMMARY_SOURCES, folded.version, topSkills);
    });
    if (folded) await afterFold(conn, folded);
    return snapshot;
  });
}
