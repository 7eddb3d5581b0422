import { CHANGES_CHANNEL, checkChangeTriggers } from '../db/change-contract.js';
import {
  type Connection,
  inTransaction,
  num,
  type StatsClient,
  withConnection,
} from './connection.js';
import { foldStatsDeltas, STATS_LOCK_KEY } from './fold.js';

export interface VerifyResult {
  ok: boolean;
  /** Human-readable, one line per mismatching group or missing trigger. */
  differences: string[];
}

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
 * It notifies every stats table as a writer would (any aggregate may have
 * moved), bumps the version and drops the published snapshot. Folds (and so `readDashboardStats` on every instance) wait for the rebuild:
 * run it as a background task. The lock is session-level, taken before BEGIN,
 * because REPEATABLE READ fixes its snapshot at the first statement.
 */
export async function rebuildStatsSummary(client: StatsClient): Promise<RebuildResult> {
  return withConnection(client, async (conn) => {
    await conn.query('SELECT pg_advisory_lock($1)', [STATS_LOCK_KEY]);
    let result: RebuildResult | undefined;
    try {
      // A wake-up elsewhere may update stats_state (woken_at) after this
      // snapshot was taken: REPEATABLE READ then refuses the
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
       FROM stats_base_consultant_groups`,
    );
    await conn.query('DELETE FROM stats_mission_groups');
    await conn.query(
      `INSERT INTO stats_mission_groups (status, missions, daily_rate_sum)
       SELECT status, missions, daily_rate_sum FROM stats_base_mission_groups`,
    );
    await conn.query('DELETE FROM stats_skill_groups');
    await conn.query(
      `INSERT INTO stats_skill_groups (skill_id, consultants)
       SELECT skill_id, consultants FROM stats_base_skill_groups`,
    );
    const state = await conn.query<{ version: string }>(
      `INSERT INTO stats_state (id, version, folded_at, rebuilt_at) VALUES (1, 1, now(), now())
       ON CONFLICT (id) DO UPDATE
       SET version = stats_state.version + 1, folded_at = clock_timestamp(),
         rebuilt_at = clock_timestamp(), snapshot = NULL
       RETURNING version::text AS version`,
    );
    // Any aggregate may have moved: tell every instance.
    await conn.query(
      `SELECT pg_notify('${CHANGES_CHANNEL}', table_name) FROM stats_delta_kinds ORDER BY kind`,
    );
    return {
      version: state.rows[0]?.version ?? '',
      discardedDeltas: num(discarded.rows[0]?.n),
    };
  });
}

// Summary + visible deltas versus the base tables, per group, in one
// snapshot: the invariant stated in src/stats/fold.ts.
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
  SELECT practice_id, availability, consultants AS n, daily_rate_sum AS s
  FROM stats_base_consultant_groups
),
incremental_missions AS (
  SELECT status, sum(n) AS n, sum(s) AS s FROM (
    SELECT status, missions AS n, daily_rate_sum AS s FROM stats_mission_groups
    UNION ALL
    SELECT status, count_delta, sum_delta FROM stats_deltas WHERE kind = 2 AND status IS NOT NULL
  ) x GROUP BY status
),
actual_missions AS (
  SELECT status, missions AS n, daily_rate_sum AS s FROM stats_base_mission_groups
),
incremental_skills AS (
  SELECT skill_id, sum(n) AS n FROM (
    SELECT skill_id, consultants AS n FROM stats_skill_groups
    UNION ALL
    SELECT skill_id, count_delta FROM stats_deltas WHERE kind = 3 AND skill_id IS NOT NULL
  ) x GROUP BY skill_id
),
actual_skills AS (
  SELECT skill_id, consultants AS n FROM stats_base_skill_groups
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
    await foldStatsDeltas(conn);
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
