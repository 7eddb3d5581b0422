import { inTransaction, num, type StatsClient, withConnection } from './connection.js';

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

function average(sum: number, count: number): number | null {
  return count === 0 ? null : Math.round((sum / count) * 100) / 100;
}

export function topSkillsLimit(options: DashboardStatsOptions): number {
  const n = options.topSkills ?? DEFAULT_TOP_SKILLS;
  if (!Number.isInteger(n) || n < 0 || n > MAX_TOP_SKILLS) {
    throw new RangeError(`topSkills must be an integer in 0…${MAX_TOP_SKILLS}, got ${n}`);
  }
  return n;
}

// ---------------------------------------------------------------------------
// Reading

/**
 * What `stats_snapshot_rows` (drizzle/0008_stats_fold_function.sql) returns,
 * from the summary tables or from the base tables alike: one SQL query for
 * both, and this one assembler, so the two cannot drift apart. Numbers are
 * JSON numbers (or strings, which {@link num} accepts too).
 */
export interface SnapshotRows {
  practices: {
    practice_id: number;
    name: string;
    available: number | string;
    on_mission: number | string;
    unavailable: number | string;
    daily_rate_sum: number | string;
  }[];
  missions: { status: MissionStatus; missions: number | string; daily_rate_sum: number | string }[];
  topSkills: { skill_id: number; name: string; category: string; consultants: number | string }[];
}

/** Builds the snapshot the API serves from the rows the SQL returns. */
export function assembleSnapshot(
  rows: SnapshotRows,
  version: string,
  computedAt: Date,
  topSkills: number,
): DashboardStatsSnapshot {
  const practices: PracticeStats[] = rows.practices.map((row) => {
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
  for (const row of rows.missions) {
    byStatus[row.status] += num(row.missions);
    missionRateSum += num(row.daily_rate_sum);
  }
  const missionTotal = byStatus.PLANNED + byStatus.ACTIVE + byStatus.COMPLETED + byStatus.CANCELLED;

  return {
    version,
    computedAt,
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
    topSkills: rows.topSkills.slice(0, topSkills).map((row) => ({
      skillId: row.skill_id,
      name: row.name,
      category: row.category,
      consultants: num(row.consultants),
    })),
  };
}

/**
 * A snapshot as `stats_fold` publishes it in `stats_state.snapshot`: the
 * rows plus the version they belong to, when they were read, and how many
 * top skills they hold.
 */
export interface PublishedSnapshot extends SnapshotRows {
  version: string;
  computedAt: string;
  topSkillsLimit: number;
}

/** The published snapshot as the API serves it; `null` when it holds fewer top skills than asked. */
export function fromPublished(
  published: PublishedSnapshot,
  topSkills: number,
): DashboardStatsSnapshot | null {
  if (published.topSkillsLimit < topSkills) return null;
  return assembleSnapshot(published, published.version, new Date(published.computedAt), topSkills);
}

/**
 * The snapshot another instance published with the last fold (see
 * {@link PublishedSnapshot}), read without folding nor locking: what an
 * instance serves when a fold notification says the version moved. `null`
 * when there is none or it is stale (then fold instead).
 */
export async function readPublishedSnapshot(
  client: StatsClient,
  options: DashboardStatsOptions = {},
): Promise<DashboardStatsSnapshot | null> {
  const topSkills = topSkillsLimit(options);
  const result = await client.query<{ snapshot: PublishedSnapshot | null }>(
    `SELECT CASE WHEN (snapshot->>'version')::bigint = version THEN snapshot END AS snapshot
     FROM stats_state WHERE id = 1`,
  );
  const published = result.rows[0]?.snapshot;
  return published ? fromPublished(published, topSkills) : null;
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
      const result = await conn.query<{ version: string; rows: SnapshotRows }>(
        `SELECT coalesce((SELECT version FROM stats_state WHERE id = 1), 0)::text AS version,
           stats_snapshot_rows($1, true) AS rows`,
        [topSkills],
      );
      const row = result.rows[0];
      if (!row) throw new Error('stats_snapshot_rows returned nothing');
      return assembleSnapshot(row.rows, row.version, new Date(), topSkills);
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
