import { and, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../client.js';
import { type MissionRow, missions } from '../schema/index.js';
import {
  type PageResult,
  type PageWindow,
  type SortDirection,
  selectKeysetPage,
} from './keyset.js';
import { mapRawRow } from './raw.js';

export type MissionStatus = MissionRow['status'];

export interface MissionFilter {
  consultantIds?: readonly number[] | null;
  statuses?: readonly MissionStatus[] | null;
  /** Missions whose period overlaps [from, to]; an ongoing mission has no end. */
  from?: string | null;
  to?: string | null;
}

function filterConditions(filter: MissionFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.consultantIds?.length) {
    conditions.push(inArray(missions.consultantId, [...filter.consultantIds]));
  }
  if (filter.statuses?.length) conditions.push(inArray(missions.status, [...filter.statuses]));
  if (filter.to) conditions.push(sql`${missions.startDate} <= ${filter.to}::date`);
  if (filter.from) {
    conditions.push(
      sql`(${missions.endDate} IS NULL OR ${missions.endDate} >= ${filter.from}::date)`,
    );
  }
  return conditions;
}

/** One page of the root missions list, ordered by start date then id, in one statement. */
export async function pageMissions(
  db: Database,
  filter: MissionFilter,
  direction: SortDirection,
  window: PageWindow<string>,
): Promise<PageResult<MissionRow>> {
  return selectKeysetPage(db, missions, filterConditions(filter), {
    orderColumn: missions.startDate,
    idColumn: missions.id,
    valueType: 'date',
    direction,
    window,
  });
}

export async function countMissions(db: Database, filter: MissionFilter): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(missions)
    .where(and(...filterConditions(filter)));
  return row?.count ?? 0;
}

export async function missionsByIds(db: Database, ids: readonly number[]): Promise<MissionRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(missions)
    .where(inArray(missions.id, [...ids]));
}

export interface ConsultantMissionsKey {
  consultantId: number;
  limit: number;
  /** Position after which to read, in the list's order (newest first). */
  after: { value: string; id: number } | null;
}

/**
 * Newest-first mission pages for many consultants in one statement: each key
 * becomes a LATERAL index range scan on (consultant_id, start_date DESC, id DESC),
 * whatever the per-key page size and cursor.
 */
export async function missionPagesForConsultants(
  db: Database,
  keys: readonly ConsultantMissionsKey[],
): Promise<PageResult<MissionRow>[]> {
  if (keys.length === 0) return [];
  const consultantIds = keys.map((key) => key.consultantId);
  const afterDates = keys.map((key) => key.after?.value ?? null);
  const afterIds = keys.map((key) => key.after?.id ?? null);
  const limits = keys.map((key) => key.limit + 1);
  // Arrays go as single parameters (sql.param): interpolated directly, drizzle would expand them into lists.
  const result = await db.execute<Record<string, unknown>>(sql`
    SELECT k.ord, prev.has_previous, m.*
    FROM unnest(${sql.param(consultantIds)}::int[], ${sql.param(afterDates)}::date[],
                ${sql.param(afterIds)}::bigint[], ${sql.param(limits)}::int[])
           WITH ORDINALITY AS k(consultant_id, after_date, after_id, row_limit, ord)
    CROSS JOIN LATERAL (
      SELECT k.after_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM ${missions} p
        WHERE p.consultant_id = k.consultant_id AND (p.start_date, p.id) >= (k.after_date, k.after_id)
      ) AS has_previous
    ) prev
    LEFT JOIN LATERAL (
      SELECT * FROM ${missions} m
      WHERE m.consultant_id = k.consultant_id
        AND (m.start_date, m.id) < (coalesce(k.after_date, 'infinity'::date), coalesce(k.after_id, 9223372036854775807))
      ORDER BY m.start_date DESC, m.id DESC
      LIMIT k.row_limit
    ) m ON true
    ORDER BY k.ord, m.start_date DESC, m.id DESC`);
  const grouped = keys.map(() => ({ rows: [] as MissionRow[], hasPrevious: false }));
  for (const raw of result.rows) {
    const slot = grouped[Number(raw.ord) - 1];
    if (!slot) continue;
    slot.hasPrevious = raw.has_previous === true;
    if (raw.id !== null) slot.rows.push(mapRawRow(missions, raw));
  }
  return grouped.map((slot, index) => {
    const limit = keys[index]?.limit ?? 0;
    return {
      rows: slot.rows.slice(0, limit),
      hasNextPage: slot.rows.length > limit,
      hasPreviousPage: slot.hasPrevious,
    };
  });
}

/** The ongoing (ACTIVE) mission of each consultant, newest if several; served by a partial index. */
export async function currentMissionsForConsultants(
  db: Database,
  consultantIds: readonly number[],
): Promise<MissionRow[]> {
  if (consultantIds.length === 0) return [];
  return db
    .selectDistinctOn([missions.consultantId])
    .from(missions)
    .where(and(inArray(missions.consultantId, [...consultantIds]), eq(missions.status, 'ACTIVE')))
    .orderBy(missions.consultantId, desc(missions.startDate), desc(missions.id));
}

export async function missionCountsForConsultants(
  db: Database,
  consultantIds: readonly number[],
): Promise<Map<number, number>> {
  if (consultantIds.length === 0) return new Map();
  const rows = await db
    .select({ consultantId: missions.consultantId, count: sql<number>`count(*)::int` })
    .from(missions)
    .where(inArray(missions.consultantId, [...consultantIds]))
    .groupBy(missions.consultantId);
  return new Map(rows.map((row) => [row.consultantId, row.count]));
}
