import {
  type Connection,
  inTransaction,
  num,
  type StatsClient,
  withConnection,
} from './connection.js';

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
 * Source relations for the two ways of computing a snapshot. Both expose the
 * same columns, so one set of statements and one assembler serve both and
 * cannot drift apart.
 */
export interface Sources {
  consultantGroups: string;
  missionGroups: string;
  skillGroups: string;
}

export const SUMMARY_SOURCES: Sources = {
  consultantGroups: 'stats_consultant_groups',
  missionGroups: 'stats_mission_groups',
  skillGroups: 'stats_skill_groups',
};

export const BASE_SOURCES: Sources = {
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
export async function readSnapshot(
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
