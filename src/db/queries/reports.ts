import { and, eq, gt, lte, sql } from 'drizzle-orm';
import { type ReportCacheRow, reportCache } from '../schema/index.js';
import type { Executor } from './executor.js';

export type UtilizationGroupBy = 'PRACTICE' | 'SKILL' | 'MONTH';

export interface UtilizationParams {
  /** Inclusive calendar dates, `YYYY-MM-DD`. */
  from: string;
  to: string;
  groupBy: UtilizationGroupBy;
}

export interface UtilizationRow {
  /** Practice name, skill name or `YYYY-MM`. */
  key: string;
  consultants: number;
  /** Calendar days of non-cancelled missions inside the period. */
  staffedDays: number;
  /** Consultants × calendar days of the period (or of the month). */
  availableDays: number;
  /** Staffed days × daily rate, in euros. */
  revenue: number;
}

/**
 * The current data version of reports: the `report_data_version` sequence,
 * bumped by every statement that writes a table reports read (drizzle/0005).
 */
export async function readReportDataVersion(db: Executor): Promise<bigint> {
  const result = await db.execute<{ version: string }>(
    sql`SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS version FROM report_data_version`,
  );
  return BigInt(result.rows[0]?.version ?? '0');
}

const ttlInterval = (ttlMs: number) => sql`now() - make_interval(secs => ${ttlMs / 1000})`;

/** The entry for these parameters if it was computed at this data version and is not expired. */
export async function findCachedReport(
  db: Executor,
  paramsHash: string,
  dataVersion: bigint,
  ttlMs: number,
): Promise<ReportCacheRow | undefined> {
  const [row] = await db
    .select()
    .from(reportCache)
    .where(
      and(
        eq(reportCache.paramsHash, paramsHash),
        eq(reportCache.dataVersion, dataVersion),
        gt(reportCache.computedAt, ttlInterval(ttlMs)),
      ),
    );
  return row;
}

/** Stores (or replaces) the entry for these parameters. */
export async function storeReport(
  db: Executor,
  entry: Pick<ReportCacheRow, 'paramsHash' | 'report' | 'params' | 'dataVersion' | 'rows'>,
): Promise<ReportCacheRow> {
  const [row] = await db
    .insert(reportCache)
    .values(entry)
    .onConflictDoUpdate({
      target: reportCache.paramsHash,
      set: {
        dataVersion: entry.dataVersion,
        rows: entry.rows,
        params: entry.params,
        computedAt: sql`now()`,
      },
    })
    .returning();
  if (!row) throw new Error('report cache upsert returned no row');
  return row;
}

/** Deletes entries computed at or before a data version (they may predate a commit). */
export async function deleteReportsUpTo(db: Executor, dataVersion: bigint): Promise<number> {
  const rows = await db
    .delete(reportCache)
    .where(lte(reportCache.dataVersion, dataVersion))
    .returning({ hash: reportCache.paramsHash });
  return rows.length;
}

export async function deleteExpiredReports(db: Executor, ttlMs: number): Promise<number> {
  const rows = await db
    .delete(reportCache)
    .where(lte(reportCache.computedAt, ttlInterval(ttlMs)))
    .returning({ hash: reportCache.paramsHash });
  return rows.length;
}

// Missions of the period, clipped to it; cancelled ones staffed nobody.
const periodMissions = (from: string, to: string) => sql`
  SELECT m.consultant_id, m.daily_rate, m.start_date, m.end_date,
    least(coalesce(m.end_date, ${to}::date), ${to}::date)
      - greatest(m.start_date, ${from}::date) + 1 AS days
  FROM missions m
  WHERE m.status <> 'CANCELLED'
    AND m.start_date <= ${to}::date
    AND (m.end_date IS NULL OR m.end_date >= ${from}::date)`;

function utilizationQuery({ from, to, groupBy }: UtilizationParams) {
  const periodDays = sql`(${to}::date - ${from}::date + 1)`;
  switch (groupBy) {
    case 'PRACTICE':
      return sql`
        WITH m AS (${periodMissions(from, to)}),
        staffed AS (
          SELECT c.practice_id AS g, sum(m.days) AS days, sum(m.days::bigint * m.daily_rate) AS revenue
          FROM m JOIN consultants c ON c.id = m.consultant_id GROUP BY 1),
        heads AS (SELECT practice_id AS g, count(*) AS n FROM consultants GROUP BY 1)
        SELECT p.name AS key, coalesce(h.n, 0) AS consultants,
          coalesce(s.days, 0) AS staffed_days, coalesce(h.n, 0) * ${periodDays} AS available_days,
          coalesce(s.revenue, 0) AS revenue
        FROM practices p LEFT JOIN heads h ON h.g = p.id LEFT JOIN staffed s ON s.g = p.id
        ORDER BY p.name`;
    case 'SKILL':
      return sql`
        WITH m AS (${periodMissions(from, to)}),
        staffed AS (
          SELECT cs.skill_id AS g, sum(m.days) AS days, sum(m.days::bigint * m.daily_rate) AS revenue
          FROM m JOIN consultant_skills cs ON cs.consultant_id = m.consultant_id GROUP BY 1),
        heads AS (SELECT skill_id AS g, count(*) AS n FROM consultant_skills GROUP BY 1)
        SELECT sk.name AS key, coalesce(h.n, 0) AS consultants,
          coalesce(s.days, 0) AS staffed_days, coalesce(h.n, 0) * ${periodDays} AS available_days,
          coalesce(s.revenue, 0) AS revenue
        FROM skills sk LEFT JOIN heads h ON h.g = sk.id LEFT JOIN staffed s ON s.g = sk.id
        ORDER BY sk.name`;
    case 'MONTH':
      return sql`
        WITH months AS (
          SELECT to_char(d, 'YYYY-MM') AS key,
            greatest(d::date, ${from}::date) AS ms,
            least((d + interval '1 month' - interval '1 day')::date, ${to}::date) AS me
          FROM generate_series(date_trunc('month', ${from}::date), ${to}::date, interval '1 month') AS d),
        m AS (${periodMissions(from, to)}),
        heads AS (SELECT count(*) AS n FROM consultants)
        SELECT mo.key, h.n AS consultants,
          coalesce(sum(least(coalesce(m.end_date, mo.me), mo.me) - greatest(m.start_date, mo.ms) + 1)
            FILTER (WHERE m.consultant_id IS NOT NULL), 0) AS staffed_days,
          h.n * (mo.me - mo.ms + 1) AS available_days,
          coalesce(sum((least(coalesce(m.end_date, mo.me), mo.me) - greatest(m.start_date, mo.ms) + 1)::bigint
            * m.daily_rate) FILTER (WHERE m.consultant_id IS NOT NULL), 0) AS revenue
        FROM months mo CROSS JOIN heads h
        LEFT JOIN m ON m.start_date <= mo.me AND (m.end_date IS NULL OR m.end_date >= mo.ms)
        GROUP BY mo.key, mo.ms, mo.me, h.n
        ORDER BY mo.key`;
  }
}

/** Computes the utilization report from the base tables (the expensive part the cache saves). */
export async function computeUtilization(
  db: Executor,
  params: UtilizationParams,
): Promise<UtilizationRow[]> {
  const result = await db.execute<Record<string, string | number>>(utilizationQuery(params));
  return result.rows.map((row) => ({
    key: String(row.key),
    consultants: Number(row.consultants),
    staffedDays: Number(row.staffed_days),
    availableDays: Number(row.available_days),
    revenue: Number(row.revenue),
  }));
}
