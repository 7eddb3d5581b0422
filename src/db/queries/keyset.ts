import { and, eq, type InferSelectModel, type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { PageResult, PageWindow, SortDirection } from '../../schema/pagination.js';
import type { Database } from '../client.js';

/**
 * Keyset ("seek") pagination over `(orderColumn, id)`: every page is an index
 * range scan from the cursor, so page 20,000 costs what page 1 costs, which
 * OFFSET cannot do. The id breaks ties so no row is skipped or repeated.
 */
export interface KeysetSpec<V> {
  orderColumn: AnyPgColumn;
  idColumn: AnyPgColumn;
  /** SQL type the cursor value is cast to, so the row comparison uses the index. */
  valueType: 'text' | 'integer' | 'timestamptz' | 'date';
  direction: SortDirection;
  window: PageWindow<V>;
}

export interface KeysetPlan {
  /** Conditions for the rows of the requested window. */
  bounds: SQL[];
  /**
   * Rows on the far side of the cursor we read from, used to answer
   * hasPreviousPage (forward) or hasNextPage (backward); null when there is no such cursor.
   */
  beyondStart: SQL | null;
  orderBy: SQL[];
  /** One more than asked for: the extra row says whether the page continues. */
  fetch: number;
}

function compare(
  spec: KeysetSpec<unknown>,
  op: '>' | '<' | '>=' | '<=',
  value: unknown,
  id: number,
) {
  return sql`(${spec.orderColumn}, ${spec.idColumn}) ${sql.raw(op)} (${value}::${sql.raw(spec.valueType)}, ${id}::bigint)`;
}

export function planKeyset<V>(spec: KeysetSpec<V>): KeysetPlan {
  const { window, direction } = spec;
  const ascending = direction === 'ASC';
  const bounds: SQL[] = [];
  if (window.after) {
    bounds.push(compare(spec, ascending ? '>' : '<', window.after.value, window.after.id));
  }
  if (window.before) {
    bounds.push(compare(spec, ascending ? '<' : '>', window.before.value, window.before.id));
  }
  const start = window.backward ? window.before : window.after;
  let beyondStart: SQL | null = null;
  if (start) {
    const towardFront = ascending !== window.backward;
    beyondStart = compare(spec, towardFront ? '<=' : '>=', start.value, start.id);
  }
  const scanAscending = ascending !== window.backward;
  const dir = sql.raw(scanAscending ? 'ASC' : 'DESC');
  return {
    bounds,
    beyondStart,
    orderBy: [sql`${spec.orderColumn} ${dir}`, sql`${spec.idColumn} ${dir}`],
    fetch: window.limit + 1,
  };
}

/** Turns the fetched rows (in scan order, one extra at most) into a page in list order. */
export function finishKeysetPage<T>(
  window: PageWindow<unknown>,
  rows: T[],
  rowsBeyondStart: boolean,
): PageResult<T> {
  const more = rows.length > window.limit;
  const page = more ? rows.slice(0, window.limit) : rows;
  if (window.backward) page.reverse();
  return {
    rows: page,
    hasNextPage: window.backward ? rowsBeyondStart : more,
    hasPreviousPage: window.backward ? more : rowsBeyondStart,
  };
}

export interface KeysetPageOptions {
  /**
   * Find the page's ids first, then read their rows. For a filter that has to
   * look at many rows to keep a few (a common search fragment), the scan can
   * then be index-only over an index that carries the filtered columns,
   * instead of a heap visit for every row it rejects.
   */
  idsFirst?: boolean;
}

/**
 * Reads one keyset page of `table` in one statement: the page rows plus, as
 * an uncorrelated sub-select PostgreSQL evaluates once, whether rows exist on
 * the other side of the cursor. Only an empty page, which carries no row to
 * read that flag from, costs a second statement.
 */
export async function selectKeysetPage<T extends PgTable, V>(
  db: Database,
  table: T,
  filters: SQL[],
  spec: KeysetSpec<V>,
  options: KeysetPageOptions = {},
): Promise<PageResult<InferSelectModel<T>>> {
  const plan = planKeyset(spec);
  const beyondStartQuery = plan.beyondStart
    ? sql<boolean>`EXISTS (SELECT 1 FROM ${table} WHERE ${and(...filters, plan.beyondStart)})`
    : sql<boolean>`false`;
  const where = and(...filters, ...plan.bounds);
  let query = db
    .select({ row: table as PgTable, beyondStart: beyondStartQuery })
    .from(table as PgTable)
    .$dynamic();
  if (options.idsFirst) {
    const pageIds = db
      .select({ id: spec.idColumn })
      .from(table as PgTable)
      .where(where)
      .orderBy(...plan.orderBy)
      .limit(plan.fetch)
      .as('page_ids');
    query = query.innerJoin(pageIds, eq(spec.idColumn, pageIds.id)).orderBy(...plan.orderBy);
  } else {
    query = query
      .where(where)
      .orderBy(...plan.orderBy)
      .limit(plan.fetch);
  }
  const rows = (await query) as { row: InferSelectModel<T>; beyondStart: boolean }[];
  let beyondStart = rows[0]?.beyondStart ?? false;
  if (rows.length === 0 && plan.beyondStart) {
    const [row] = await db.select({ exists: beyondStartQuery }).from(sql`(SELECT 1) AS one`);
    beyondStart = row?.exists ?? false;
  }
  return finishKeysetPage(
    spec.window,
    rows.map(({ row }) => row),
    beyondStart,
  );
}
