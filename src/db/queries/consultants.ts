import { and, inArray, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../client.js';
import { type ConsultantRow, consultantSkills, consultants } from '../schema/index.js';
import {
  type KeysetSpec,
  type PageResult,
  type PageWindow,
  type SortDirection,
  selectKeysetPage,
} from './keyset.js';

export type Availability = ConsultantRow['availability'];
export type ConsultantOrderField = 'LAST_NAME' | 'CREATED_AT' | 'DAILY_RATE' | 'ID';

export interface ConsultantFilter {
  practiceIds?: readonly number[] | null;
  availability?: readonly Availability[] | null;
  /** Consultants who have every one of these skills. */
  skillIds?: readonly number[] | null;
  /** Literal substring of first name, last name or email, case-insensitive. */
  search?: string | null;
}

export interface ConsultantOrder {
  field: ConsultantOrderField;
  direction: SortDirection;
}

/**
 * Escapes LIKE metacharacters so user text matches literally: `50%` finds
 * "50%", not everything starting with 50. Backslash is PostgreSQL's default
 * LIKE escape character.
 */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/** Same expression as the trigram index `consultants_search_trgm_idx`, so the index serves it. */
const searchText = sql`(${consultants.firstName} || ' ' || ${consultants.lastName} || ' ' || ${consultants.email})`;

export function filterConditions(filter: ConsultantFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.practiceIds?.length) {
    conditions.push(inArray(consultants.practiceId, [...filter.practiceIds]));
  }
  if (filter.availability?.length) {
    conditions.push(inArray(consultants.availability, [...filter.availability]));
  }
  if (filter.skillIds?.length) {
    const skillIds = [...new Set(filter.skillIds)];
    conditions.push(
      inArray(
        consultants.id,
        sql`(SELECT ${consultantSkills.consultantId} FROM ${consultantSkills}
             WHERE ${inArray(consultantSkills.skillId, skillIds)}
             GROUP BY ${consultantSkills.consultantId}
             HAVING count(*) = ${skillIds.length})`,
      ),
    );
  }
  const search = filter.search?.trim();
  if (search) {
    conditions.push(sql`${searchText} ILIKE ${`%${escapeLikePattern(search)}%`}`);
  }
  return conditions;
}

const orderColumns = {
  LAST_NAME: { column: consultants.lastName, valueType: 'text' },
  CREATED_AT: { column: consultants.createdAt, valueType: 'timestamptz' },
  DAILY_RATE: { column: consultants.dailyRate, valueType: 'integer' },
  ID: { column: consultants.id, valueType: 'integer' },
} as const;

/** The value a consultant's cursor holds for an order: what the keyset compares. */
export function consultantSortValue(row: ConsultantRow, field: ConsultantOrderField) {
  switch (field) {
    case 'LAST_NAME':
      return row.lastName;
    case 'CREATED_AT':
      // Columns are timestamptz(3), so milliseconds round-trip exactly through JSON.
      return row.createdAt.toISOString();
    case 'DAILY_RATE':
      return row.dailyRate;
    case 'ID':
      return row.id;
  }
}

/** Columns of the last-name index (key and INCLUDE, migration 0006): all a filter reads. */
export const SEARCH_WALK_COLUMNS = [
  consultants.id,
  consultants.lastName,
  consultants.firstName,
  consultants.email,
  consultants.practiceId,
  consultants.availability,
];
/**
 * Rows a search reads in order before it takes the trigram index instead.
 * By last name: index tuples, ~5 ms of walking (about 1 µs a tuple, the
 * ILIKE included). By id: rows in table order (the primary key walked, the
 * heap read nearly sequentially); long enough that a fragment the walk misses
 * has so few matches (under ~21 in 20,000, about 1,000 at 1M rows) that the
 * trigram fallback's random heap reads stay cheap.
 */
const SEARCH_WALK_ROWS: Partial<Record<ConsultantOrderField, number>> = {
  LAST_NAME: 5_000,
  ID: 10_000,
};

/** One page of consultants, in one statement (see selectKeysetPage). */
export async function pageConsultants(
  db: Database,
  filter: ConsultantFilter,
  order: ConsultantOrder,
  window: PageWindow<string | number>,
): Promise<PageResult<ConsultantRow>> {
  const { column, valueType } = orderColumns[order.field];
  const spec: KeysetSpec<string | number> = {
    orderColumn: column,
    idColumn: consultants.id,
    valueType,
    direction: order.direction,
    window,
  };
  // A search by last name walks the last-name index, which carries every
  // column the filters read (migration 0006), so the walk is index-only; a
  // search by id walks the table in its physical order. Where a fragment's
  // matches crowd into a few last names (a last-name fragment), the walk by
  // last name falls short and the fallback reads every match from the heap:
  // that is why a search is ordered by id unless asked otherwise.
  const search = Boolean(filter.search?.trim());
  const walkRows = SEARCH_WALK_ROWS[order.field];
  return selectKeysetPage(db, consultants, filterConditions(filter), spec, {
    boundedWalk: search && walkRows ? { columns: SEARCH_WALK_COLUMNS, rows: walkRows } : undefined,
  });
}

export async function countConsultants(db: Database, filter: ConsultantFilter): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(consultants)
    .where(and(...filterConditions(filter)));
  return row?.count ?? 0;
}

export async function consultantsByIds(
  db: Database,
  ids: readonly number[],
): Promise<ConsultantRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(consultants)
    .where(inArray(consultants.id, [...ids]));
}
