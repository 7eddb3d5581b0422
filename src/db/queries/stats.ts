import pg from 'pg';
import { CHANGE_TABLES, CHANGES_CHANNEL, type ChangeTable } from '../../changes/events.js';

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
 * A pooled or dedicated node-postgres connection. Functions that need a
 * transaction check a connection out of a `Pool` themselves; a client passed
 * in must not be inside a transaction already. From drizzle, pass
 * `db.$client`.
 */
export type StatsClient = pg.Pool | pg.PoolClient | pg.Client;

type Connection = pg.PoolClient | pg.Client;

/**
 * Serializes folds and rebuilds across every API instance on the database.
 * Any constant works as long as every instance uses the same one; it sits
 * next to the migration lock (7_312_004_211) to be easy to recognise in
 * pg_locks.
 */
const STATS_LOCK_KEY = 7_312_004_212;

const DEFAULT_TOP_SKILLS = 10;
const MAX_TOP_SKILLS = 1000;

export type Availability = 'AVAILABLE' | 'ON_MISSION' | 'UNAVAILABLE';
export type MissionStatus = 'PLANNED' | 'ACTIVE' | 'COMPLETED' | 'CANCELLED';

export interface PracticeStats {
  practiceId: number;
  name: string;
  consultants: number;
  available: number;
  onMission: number;
  unavailable: number;
  /** Mean daily rate of the practice's consultants, 2 decimals; null when it has none. */
  averageDailyRate: number | null;
}

export interface SkillStats {
  skillId: number;
  name: string;
  category: string;
  /** Consultants holding the skill (rows of consultant_skills). */
  consultants: number;
}

/** What the dashboard shows; every number is exact at the snapshot's version. */
export interface DashboardStatsSnapshot {
  /**
   * `stats_state.version` as a decimal string (it is a bigint). It increases
   * by one whenever a fold changes an aggregate or a practice/skill name, and
   * on every rebuild; it never moves otherwise. It is shared by every API
   * instance on the database, so equal versions mean equal snapshots.
   */
  version: string;
  computedAt: Date;
  consultants: {
    total: number;
    available: number;
    onMission: number;
    unavailable: number;
    /** onMission / total; 0 when there are no consultants. */
    utilizationRate: number;
  };
  /** Every practice, including those without consultants, ordered by name. */
  practices: PracticeStats[];
  missions: {
    /** Status ACTIVE. */
    active: number;
    /** Status COMPLETED. */
    ended: number;
    planned: number;
    cancelled: number;
    total: number;
    /** Mean daily rate over all missions, 2 decimals; null when there are none. */
    averageDailyRate: number | null;
  };
  /** Skills with at least one consultant, by consultant count desc, then name. */
  topSkills: SkillStats[];
}

export interface DashboardStatsOptions {
  /** How many skills `topSkills` lists (0…1000). Default 10. */
  topSkills?: number;
}

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

export interface VerifyResult {
  ok: boolean;
  /** Human-readable, one line per mismatching group or missing trigger. */
  differences: string[];
}

// ---------------------------------------------------------------------------
// Connections and transactions

async function withConnection<T>(
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

async function inTransaction<T>(conn: Connection, begin: string, fn: () => Promise<T>): Promise<T> {
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
function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : Number(value);
}

function average(sum: number, count: number): number | null {
  return count === 0 ? null : Math.round((sum / count) * 100) / 100;
}

function topSkillsLimit(options: DashboardStatsOptions): number {
  const n = options.topSkills ?? DEFAULT_TOP_SKILLS;
  if (!Number.isInteger(n) || n < 0 || n > MAX_TOP_SKILLS) {
    throw new RangeError(`topSkills must be an integer in 0…${MAX_TOP_SKILLS}, got ${n}`);
  }
  return n;
}

// ---------------------------------------------------------------------------
// Folding

/** `stats_deltas.kind` → table (src/db/schema/stats.ts, StatsDeltaKind). */
const KIND_TABLES_SQL = `(VALUES (1, 'consultants'), (2, 'missions'), (3, 'consultant_skills'),
  (4, 'practices'), (5, 'skills')) AS kind_tables (kind, name)`;

/** First key of the writers' marker locks, `pg_advisory_xact_lock_shared(7312004, kind)`. */
const MARKER_LOCK_CLASS = 7_312_004;

/** How long writers may stay silent after a fold that consumed deltas. */
const REFOLD_WINDOW = '2 seconds';

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

interface Folded {
  deltas: number;
  changed: boolean;
  version: string;
  tables: ChangeTable[];
  /** Dead rows in stats_deltas per the statistics counters (see afterFold). */
  deadDeltas: number;
}

/** Must run inside a transaction on `conn`. */
async function foldLocked(conn: Connection): Promise<Folded> {
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
async function afterFold(conn: Connection, folded: Folded): Promise<ChangeTable[]> {
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

// ---------------------------------------------------------------------------
// Reading

/**
 * Source relations for the two ways of computing a snapshot. Both expose the
 * same columns, so one set of statements and one assembler serve both and
 * cannot drift apart.
 */
interface Sources {
  consultantGroups: string;
  missionGroups: string;
  skillGroups: string;
}

const SUMMARY_SOURCES: Sources = {
  consultantGroups: 'stats_consultant_groups',
  missionGroups: 'stats_mission_groups',
  skillGroups: 'stats_skill_groups',
};

const BASE_SOURCES: Sources = {
  consultantGroups: `(SELECT practice_id, availability, count(*) AS consultants,
      sum(daily_rate)::bigint AS daily_rate_sum
    FROM consultants GROUP BY practice_id, availability)`,
  missionGroups: `(SELECT status, count(*) AS missions, sum(daily_rate)::bigint AS daily_rate_sum
    FROM missions GROUP BY status)`,
  skillGroups: `(SELECT skill_id, count(*) AS consultants
    FROM consultant_skills GROUP BY skill_id)`,
};

function practicesSql(sources: Sources): string {
  return `
SELECT p.id AS practice_id, p.name,
  coalesce(sum(g.consultants) FILTER (WHERE g.availability = 'AVAILABLE'), 0)::text AS available,
  coalesce(sum(g.consultants) FILTER (WHERE g.availability = 'ON_MISSION'), 0)::text AS on_mission,
  coalesce(sum(g.consultants) FILTER (WHERE g.availability = 'UNAVAILABLE'), 0)::text AS unavailable,
  coalesce(sum(g.daily_rate_sum), 0)::text AS daily_rate_sum
FROM practices p
LEFT JOIN ${sources.consultantGroups} g ON g.practice_id = p.id
GROUP BY p.id, p.name
ORDER BY p.name, p.id`;
}

function missionsSql(sources: Sources): string {
  return `SELECT status::text AS status, missions::text AS missions,
  daily_rate_sum::text AS daily_rate_sum FROM ${sources.missionGroups} g`;
}

function topSkillsSql(sources: Sources): string {
  return `
SELECT s.id AS skill_id, s.name, s.category, g.consultants::text AS consultants
FROM ${sources.skillGroups} g
JOIN skills s ON s.id = g.skill_id
WHERE g.consultants > 0
ORDER BY g.consultants DESC, s.name, s.id
LIMIT $1`;
}

interface PracticeRow {
  practice_id: number;
  name: string;
  available: string;
  on_mission: string;
  unavailable: string;
  daily_rate_sum: string;
}

interface MissionGroupRow {
  status: MissionStatus;
  missions: string;
  daily_rate_sum: string;
}

interface SkillRow {
  skill_id: number;
  name: string;
  category: string;
  consultants: string;
}

/** Runs the read statements; the caller provides the consistent view (lock or snapshot). */
async function readSnapshot(
  conn: Connection,
  sources: Sources,
  version: string,
  topSkills: number,
): Promise<DashboardStatsSnapshot> {
  const practiceRows = (await conn.query<PracticeRow>(practicesSql(sources))).rows;
  const missionRows = (await conn.query<MissionGroupRow>(missionsSql(sources))).rows;
  const skillRows = (await conn.query<SkillRow>(topSkillsSql(sources), [topSkills])).rows;

  const practices: PracticeStats[] = practiceRows.map((row) => {
    const available = num(row.available);
    const onMission = num(row.on_mission);
    const unavailable = num(row.unavailable);
    const consultants = available + onMission + unavailable;
    return {
      practiceId: row.practice_id,
      name: row.name,
      consultants,
      available,
      onMission,
      unavailable,
      averageDailyRate: average(num(row.daily_rate_sum), consultants),
    };
  });
  // Every consultant belongs to a practice (foreign key), so the per-practice
  // rows add up to the totals.
  const available = practices.reduce((n, p) => n + p.available, 0);
  const onMission = practices.reduce((n, p) => n + p.onMission, 0);
  const unavailable = practices.reduce((n, p) => n + p.unavailable, 0);
  const total = available + onMission + unavailable;

  const byStatus: Record<MissionStatus, number> = {
    PLANNED: 0,
    ACTIVE: 0,
    COMPLETED: 0,
    CANCELLED: 0,
  };
  let missionRateSum = 0;
  for (const row of missionRows) {
    byStatus[row.status] += num(row.missions);
    missionRateSum += num(row.daily_rate_sum);
  }
  const missionTotal = byStatus.PLANNED + byStatus.ACTIVE + byStatus.COMPLETED + byStatus.CANCELLED;

  return {
    version,
    computedAt: new Date(),
    consultants: {
      total,
      available,
      onMission,
      unavailable,
      utilizationRate: total === 0 ? 0 : onMission / total,
    },
    practices,
    missions: {
      active: byStatus.ACTIVE,
      ended: byStatus.COMPLETED,
      planned: byStatus.PLANNED,
      cancelled: byStatus.CANCELLED,
      total: missionTotal,
      averageDailyRate: average(missionRateSum, missionTotal),
    },
    topSkills: skillRows.map((row) => ({
      skillId: row.skill_id,
      name: row.name,
      category: row.category,
      consultants: num(row.consultants),
    })),
  };
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

/**
 * The same snapshot computed from the base tables (full scans of
 * consultants, missions and consultant_skills): the reference the
 * incremental path is checked against, and the way to get statistics where
 * the change triggers cannot be installed. Runs in one REPEATABLE READ
 * snapshot; `version` is the current `stats_state.version`, which does not
 * account for deltas not folded yet.
 */
export async function computeDashboardStatsFromScratch(
  client: StatsClient,
  options: DashboardStatsOptions = {},
): Promise<DashboardStatsSnapshot> {
  const topSkills = topSkillsLimit(options);
  return withConnection(client, (conn) =>
    inTransaction(conn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async () => {
      const state = await conn.query<{ version: string }>(
        `SELECT coalesce((SELECT version FROM stats_state WHERE id = 1), 0)::text AS version`,
      );
      return readSnapshot(conn, BASE_SOURCES, state.rows[0]?.version ?? '0', topSkills);
    }),
  );
}

/**
 * Reads the shared version without folding: a cheap way for a reconnecting
 * instance or client to tell whether it is behind.
 */
export async function readStatsVersion(client: StatsClient): Promise<string> {
  const result = await client.query<{ version: string }>(
    'SELECT version::text AS version FROM stats_state WHERE id = 1',
  );
  const version = result.rows[0]?.version;
  if (version === undefined) throw new Error('stats_state has no row: run the migrations');
  return version;
}

// ---------------------------------------------------------------------------
// Rebuild and verification

export interface RebuildResult {
  /** The version after the rebuild (always bumped). */
  version: string;
  /** Unfolded deltas made redundant by the rebuild. */
  discardedDeltas: number;
}

/**
 * Recomputes the summary tables from the base tables, without blocking
 * writers.
 *
 * How it stays consistent with concurrent writers: it holds the stats
 * advisory lock (no fold runs meanwhile) and works in one REPEATABLE READ
 * snapshot. A delta is committed in the same transaction as the base rows it
 * describes, so the deltas visible in that snapshot are exactly those of the
 * transactions whose rows the recompute sees: deleting those and replacing
 * the summary with the recomputed aggregates leaves later deltas to be folded
 * on top, as usual. The alternative, `LOCK TABLE … IN SHARE MODE`, is simpler
 * to reason about but stops every writer for the whole recompute (seconds at
 * ten million missions) and can deadlock with a transaction that already
 * wrote one of the tables and then writes another.
 *
 * ACCESS SHARE locks on the base tables are taken before the snapshot, since
 * TRUNCATE is not MVCC-safe: a truncate committed between the snapshot and
 * the first read would otherwise make the recompute see empty tables while
 * the truncate's deltas stay unfolded. Only TRUNCATE and DDL wait for it.
 *
 * It notifies every stats table (any aggregate may have moved) and bumps the
 * version. Folds (and so `readDashboardStats` on every instance) wait for the rebuild:
 * run it as a background task. The lock is session-level, taken before BEGIN,
 * because REPEATABLE READ fixes its snapshot at the first statement.
 */
export async function rebuildStatsSummary(client: StatsClient): Promise<RebuildResult> {
  return withConnection(client, async (conn) => {
    await conn.query('SELECT pg_advisory_lock($1)', [STATS_LOCK_KEY]);
    let result: RebuildResult | undefined;
    try {
      // The wake-up check of a fold elsewhere may update stats_state (woken_at)
      // after this snapshot was taken: REPEATABLE READ then refuses the
      // update, and the whole rebuild is simply run again.
      for (let attempt = 1; result === undefined; attempt += 1) {
        try {
          result = await rebuildOnce(conn);
        } catch (error) {
          const retry = (error as { code?: string }).code === '40001' && attempt < 5;
          if (!retry) throw error;
        }
      }
    } finally {
      await conn.query('SELECT pg_advisory_unlock($1)', [STATS_LOCK_KEY]);
    }
    // Like a consuming fold, the rebuild notified and set
    // refold_expected_until: the folds that follow do the wake-up check.
    return result;
  });
}

/** One attempt of {@link rebuildStatsSummary}, under its advisory lock. */
function rebuildOnce(conn: Connection): Promise<RebuildResult> {
  return inTransaction(conn, 'BEGIN ISOLATION LEVEL REPEATABLE READ', async () => {
    await conn.query('LOCK TABLE consultants, missions, consultant_skills IN ACCESS SHARE MODE');
    const discarded = await conn.query<{ n: string }>(
      'WITH d AS (DELETE FROM stats_deltas RETURNING 1) SELECT count(*) AS n FROM d',
    );
    await conn.query('DELETE FROM stats_consultant_groups');
    await conn.query(
      `INSERT INTO stats_consultant_groups (practice_id, availability, consultants, daily_rate_sum)
       SELECT practice_id, availability, consultants, daily_rate_sum
       FROM ${BASE_SOURCES.consultantGroups} g`,
    );
    await conn.query('DELETE FROM stats_mission_groups');
    await conn.query(
      `INSERT INTO stats_mission_groups (status, missions, daily_rate_sum)
       SELECT status, missions, daily_rate_sum FROM ${BASE_SOURCES.missionGroups} g`,
    );
    await conn.query('DELETE FROM stats_skill_groups');
    await conn.query(
      `INSERT INTO stats_skill_groups (skill_id, consultants)
       SELECT skill_id, consultants FROM ${BASE_SOURCES.skillGroups} g`,
    );
    const state = await conn.query<{ version: string }>(
      `INSERT INTO stats_state (id, version, folded_at, rebuilt_at) VALUES (1, 1, now(), now())
       ON CONFLICT (id) DO UPDATE
       SET version = stats_state.version + 1, folded_at = clock_timestamp(),
         rebuilt_at = clock_timestamp(),
         refold_expected_until = clock_timestamp() + interval '${REFOLD_WINDOW}'
       RETURNING version::text AS version`,
    );
    // Any aggregate may have moved: tell every instance.
    await conn.query(
      `SELECT pg_notify('${CHANGES_CHANNEL}', name) FROM ${KIND_TABLES_SQL} ORDER BY kind`,
    );
    return {
      version: state.rows[0]?.version ?? '',
      discardedDeltas: num(discarded.rows[0]?.n),
    };
  });
}

/** Trigger names created by drizzle/0003_stats_triggers.sql, per table. */
const CHANGE_TRIGGER_EVENTS = ['ins', 'upd', 'del', 'trunc'] as const;

export const CHANGE_TRIGGER_NAMES: readonly string[] = CHANGE_TABLES.flatMap((table) =>
  CHANGE_TRIGGER_EVENTS.map((event) => `${table}_changes_${event}`),
);

/**
 * Which change triggers are missing or disabled. `notify` change detection
 * and {@link readDashboardStats} depend on all of them; `auto` mode can fall
 * back to polling when this is not empty.
 */
export async function checkChangeTriggers(
  client: StatsClient,
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

// Summary + visible deltas versus the base tables, per group, in one
// snapshot: the invariant stated at the top of this file.
const VERIFY_SQL = `
WITH incremental_consultants AS (
  SELECT practice_id, availability, sum(n) AS n, sum(s) AS s FROM (
    SELECT practice_id, availability, consultants AS n, daily_rate_sum AS s FROM stats_consultant_groups
    UNION ALL
    SELECT practice_id, availability, count_delta, sum_delta FROM stats_deltas
    WHERE kind = 1 AND practice_id IS NOT NULL
  ) x GROUP BY practice_id, availability
),
actual_consultants AS (
  SELECT practice_id, availability, count(*) AS n, sum(daily_rate) AS s
  FROM consultants GROUP BY practice_id, availability
),
incremental_missions AS (
  SELECT status, sum(n) AS n, sum(s) AS s FROM (
    SELECT status, missions AS n, daily_rate_sum AS s FROM stats_mission_groups
    UNION ALL
    SELECT status, count_delta, sum_delta FROM stats_deltas WHERE kind = 2 AND status IS NOT NULL
  ) x GROUP BY status
),
actual_missions AS (
  SELECT status, count(*) AS n, sum(daily_rate) AS s FROM missions GROUP BY status
),
incremental_skills AS (
  SELECT skill_id, sum(n) AS n FROM (
    SELECT skill_id, consultants AS n FROM stats_skill_groups
    UNION ALL
    SELECT skill_id, count_delta FROM stats_deltas WHERE kind = 3 AND skill_id IS NOT NULL
  ) x GROUP BY skill_id
),
actual_skills AS (
  SELECT skill_id, count(*) AS n FROM consultant_skills GROUP BY skill_id
)
SELECT format('consultant group (practice %s, %s): summary %s consultants / rate sum %s, base tables %s / %s',
    coalesce(i.practice_id, a.practice_id), coalesce(i.availability, a.availability),
    coalesce(i.n, 0), coalesce(i.s, 0), coalesce(a.n, 0), coalesce(a.s, 0)) AS difference
FROM incremental_consultants i
FULL JOIN actual_consultants a ON a.practice_id = i.practice_id AND a.availability = i.availability
WHERE coalesce(i.n, 0) <> coalesce(a.n, 0) OR coalesce(i.s, 0) <> coalesce(a.s, 0)
UNION ALL
SELECT format('mission group (%s): summary %s missions / rate sum %s, base tables %s / %s',
    coalesce(i.status, a.status), coalesce(i.n, 0), coalesce(i.s, 0), coalesce(a.n, 0), coalesce(a.s, 0))
FROM incremental_missions i
FULL JOIN actual_missions a ON a.status = i.status
WHERE coalesce(i.n, 0) <> coalesce(a.n, 0) OR coalesce(i.s, 0) <> coalesce(a.s, 0)
UNION ALL
SELECT format('skill group (skill %s): summary %s consultants, base tables %s',
    coalesce(i.skill_id, a.skill_id), coalesce(i.n, 0), coalesce(a.n, 0))
FROM incremental_skills i
FULL JOIN actual_skills a ON a.skill_id = i.skill_id
WHERE coalesce(i.n, 0) <> coalesce(a.n, 0)
UNION ALL
SELECT 'stats_state has no row' WHERE NOT EXISTS (SELECT 1 FROM stats_state WHERE id = 1)`;

/**
 * Checks the incremental statistics against a full recompute: folds, then
 * compares, in one REPEATABLE READ snapshot, summary rows plus any deltas
 * committed since with the base tables' aggregates, group by group. Writers
 * are not blocked and concurrent writes cannot cause false alarms. Also
 * reports missing or disabled change triggers, which would make the summary
 * drift from then on. Full scans: run it as a background task.
 */
export async function verifyStatsSummary(client: StatsClient): Promise<VerifyResult> {
  return withConnection(client, async (conn) => {
    const folded = await inTransaction(conn, 'BEGIN', () => foldLocked(conn));
    await afterFold(conn, folded);
    const differences = await inTransaction(
      conn,
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      async () => (await conn.query<{ difference: string }>(VERIFY_SQL)).rows,
    );
    const triggers = await checkChangeTriggers(conn);
    const lines = [
      ...differences.map((row) => row.difference),
      ...triggers.missing.map((name) => `change trigger ${name} is missing or disabled`),
    ];
    return { ok: lines.length === 0, differences: lines };
  });
}

// ---------------------------------------------------------------------------
// Poll-mode checksum

/**
 * A per-table change checksum for `poll` change detection, for database roles
 * that cannot create triggers: it uses neither the change triggers nor the
 * stats tables. Compare successive results; a table whose string changed may
 * have changed.
 *
 * Built from the cumulative statistics (tuples inserted, updated, deleted,
 * as in `pg_stat_user_tables`) plus the relation's file node, which TRUNCATE
 * replaces without counting deleted tuples. Constant cost — about 1 ms for
 * the six tables, measured with 10k, 100k and 1M missions alike — so
 * polling every second is fine at ten million missions.
 *
 * Latency, measured on PostgreSQL 15: a backend publishes its counters when
 * it goes idle, at most once a second; what it could not publish then is
 * published by an idle timer 10 s later (or at its next transaction end at
 * least 1 s after the previous flush, or when it disconnects). So a write
 * shows within milliseconds when its connection had been quiet for a second,
 * and otherwise within about 10 s (60 s at worst, under contention on the
 * statistics). Nothing committed is missed, as long as `track_counts` is on
 * (the default; checked here). To see the application's own writes sooner,
 * `consultants` and `missions` also include `max(updated_at)` (an index
 * probe), which moves as soon as an insert, or an update that sets
 * updated_at, commits; deletes and other updates wait for the counters.
 *
 * False positives, harmless (one needless recompute): rolled-back writes,
 * VACUUM FULL / CLUSTER, a statistics reset, and the second change of a
 * checksum whose `max(updated_at)` already moved.
 *
 * Rejected: `count(*)` + `max(updated_at)` misses updates that leave
 * updated_at alone and scans the table (8 ms at 100k missions, 40 ms at 1M
 * freshly vacuumed, linear beyond); `sum(xmin)` sees everything at once but
 * scans too (19 ms at 100k, 98 ms at 1M).
 */
export async function readChangeChecksum(
  client: StatsClient,
): Promise<Record<ChangeTable, string>> {
  const result = await client.query<{
    table: ChangeTable;
    checksum: string | null;
    track_counts: string;
  }>(
    `SELECT t.name AS table,
       CASE WHEN t.oid IS NOT NULL THEN concat_ws(':',
         pg_stat_get_tuples_inserted(t.oid), pg_stat_get_tuples_updated(t.oid),
         pg_stat_get_tuples_deleted(t.oid), pg_relation_filenode(t.oid),
         CASE t.name
           WHEN 'consultants' THEN (SELECT max(updated_at)::text FROM consultants)
           WHEN 'missions' THEN (SELECT max(updated_at)::text FROM missions)
         END) END AS checksum,
       current_setting('track_counts') AS track_counts
     FROM (SELECT name, to_regclass(name)::oid AS oid FROM unnest($1::text[]) AS name) AS t`,
    [CHANGE_TABLES],
  );
  if (result.rows[0]?.track_counts === 'off') {
    throw new Error(
      'track_counts is off: table statistics never change, so polling cannot see writes',
    );
  }
  const checksums = {} as Record<ChangeTable, string>;
  for (const row of result.rows) {
    if (row.checksum === null) throw new Error(`table ${row.table} not found`);
    checksums[row.table] = row.checksum;
  }
  return checksums;
}
