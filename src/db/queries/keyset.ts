import { createHash } from 'node:crypto';
import { and, getTableName, type InferSelectModel, type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import { LRUCache } from 'lru-cache';
import type { Database } from '../client.js';

export type SortDirection = 'ASC' | 'DESC';

/** A position in a keyset order: the sort column's value, then the id that breaks ties. */
export interface KeysetPosition<V> {
  value: V;
  id: number;
}

/**
 * What a page request means once validated: read `limit` rows forward
 * (`first`) or backward (`last`) from the optional bounds.
 */
export interface PageWindow<V> {
  limit: number;
  backward: boolean;
  after: KeysetPosition<V> | null;
  before: KeysetPosition<V> | null;
}

/** One page of rows in list order, and whether the list goes on either side of it. */
export interface PageResult<T> {
  rows: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

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
  id: unknown,
) {
  return sql`(${spec.orderColumn}, ${spec.idColumn}) ${sql.raw(op)} (${value}::${sql.raw(spec.valueType)}, ${id}::bigint)`;
}

/**
 * How a plan holds the cursor positions: as the request's values, or as
 * placeholders (`afterValue`, `afterId`, `beforeValue`, `beforeId`) that a
 * statement prepared once per shape binds on every execution.
 */
type KeysetBinding = 'values' | 'placeholders';

export function planKeyset<V>(spec: KeysetSpec<V>, binding: KeysetBinding = 'values'): KeysetPlan {
  const { window, direction } = spec;
  const bound = (side: 'after' | 'before', position: KeysetPosition<V>) =>
    binding === 'values'
      ? position
      : { value: sql.placeholder(`${side}Value`), id: sql.placeholder(`${side}Id`) };
  const ascending = direction === 'ASC';
  const bounds: SQL[] = [];
  if (window.after) {
    const after = bound('after', window.after);
    bounds.push(compare(spec, ascending ? '>' : '<', after.value, after.id));
  }
  if (window.before) {
    const before = bound('before', window.before);
    bounds.push(compare(spec, ascending ? '<' : '>', before.value, before.id));
  }
  const start = window.backward ? window.before : window.after;
  let beyondStart: SQL | null = null;
  if (start) {
    const towardFront = ascending !== window.backward;
    const from = bound(window.backward ? 'before' : 'after', start);
    beyondStart = compare(spec, towardFront ? '<=' : '>=', from.value, from.id);
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
   * For filters that reject most rows (a name search): read the order index
   * alone, over at most `rows` rows from the cursor, keeping `columns` (the
   * ones the filters need, which that index carries: the walk is then
   * index-only); when that walk does not fill the page, take the first
   * matches by the filters' own index and a sort instead. A walk is cheap
   * when matches are frequent, the filter's index when they are rare; which
   * one a fragment needs depends on where its matches fall in the order,
   * which the planner cannot estimate. Text and integer order columns.
   */
  boundedWalk?: { columns: AnyPgColumn[]; rows: number };
  /**
   * More values to read with each row, in the same statement: typically
   * correlated sub-selects that aggregate a row's children, so that a page
   * and what its rows carry cost one round trip. Returned in `attached`,
   * one object per page row, in page order.
   */
  attach?: Record<string, SQL>;
  /** The columns each row is read with; the whole table's by default. */
  columns?: Record<string, AnyPgColumn>;
  /**
   * Run as a named prepared statement, built once per shape: its text is
   * made and hashed once, each connection parses and plans it once
   * (PostgreSQL then reuses the plan), and a page only binds its cursor
   * and size. `shape` names everything the text depends on besides the
   * table, order, direction and which cursors are given: what `attach`
   * reads. Only for pages without filters (their text would hold search
   * patterns and id lists); each distinct shape is kept by every
   * connection it ran on.
   */
  prepared?: { shape: string };
}

/** A prepared statement's name, from its text: the same text gets the same name on every connection. */
function preparedStatementName(text: string): string {
  return `keyset_${createHash('sha1').update(text).digest('base64url')}`;
}

/** A keyset page with the values of `KeysetPageOptions.attach` read for each of its rows. */
export interface AttachedPageResult<T> extends PageResult<T> {
  attached: Record<string, unknown>[];
}

/**
 * Reads one keyset page of `table` in one statement: the page rows plus, as
 * an uncorrelated sub-select PostgreSQL evaluates once, whether rows exist on
 * the other side of the cursor. Only an empty page, which carries no row to
 * read that flag from, costs a second statement.
 */
export async function selectKeysetPage<T extends PgTable, V, R = InferSelectModel<T>>(
  db: Database,
  table: T,
  filters: SQL[],
  spec: KeysetSpec<V>,
  /** `columns`, when given, are R's. */
  options: KeysetPageOptions = {},
): Promise<AttachedPageResult<R>> {
  type Row = { row: R; beyondStart: boolean } & Record<string, unknown>;
  const { window } = spec;
  let rows: Row[];
  // Built with the request's values; a prepared page needs it only when it comes back empty.
  let plan: KeysetPlan | undefined;
  if (options.prepared && filters.length === 0 && !options.boundedWalk) {
    const statement = preparedPage(db, table, spec, options, options.prepared.shape);
    rows = (await statement.execute({
      afterValue: window.after?.value,
      afterId: window.after?.id,
      beforeValue: window.before?.value,
      beforeId: window.before?.id,
      fetch: window.limit + 1,
    })) as Row[];
  } else {
    plan = planKeyset(spec);
    let query = pageSelect(db, table, filters, plan, options).$dynamic();
    if (options.boundedWalk && (spec.valueType === 'text' || spec.valueType === 'integer')) {
      const pageIds = boundedWalkIds(table, filters, spec, plan, options.boundedWalk);
      query = query.where(sql`${spec.idColumn} IN (${pageIds})`);
    } else {
      query = query.where(and(...filters, ...plan.bounds));
    }
    rows = (await query.orderBy(...plan.orderBy).limit(plan.fetch)) as Row[];
  }
  let beyondStart = rows[0]?.beyondStart ?? false;
  if (rows.length === 0) {
    plan ??= planKeyset(spec);
    if (plan.beyondStart) {
      const [row] = await db
        .select({ exists: beyondStartOf(table, filters, plan) })
        .from(sql`(SELECT 1) AS one`);
      beyondStart = row?.exists ?? false;
    }
  }
  const page = finishKeysetPage(window, rows, beyondStart);
  return {
    ...page,
    rows: page.rows.map(({ row }) => row),
    attached: options.attach ? page.rows : [],
  };
}

/** Whether rows exist on the far side of the cursor the page starts from. */
function beyondStartOf(table: PgTable, filters: SQL[], plan: KeysetPlan): SQL<boolean> {
  return plan.beyondStart
    ? sql<boolean>`EXISTS (SELECT 1 FROM ${table} WHERE ${and(...filters, plan.beyondStart)})`
    : sql<boolean>`false`;
}

/** The page's select list: what `attach` reads, the row's columns, and whether rows lie beyond the start. */
function pageSelect(
  db: Database,
  table: PgTable,
  filters: SQL[],
  plan: KeysetPlan,
  options: KeysetPageOptions,
) {
  return db
    .select({
      ...options.attach,
      row: options.columns ?? table,
      beyondStart: beyondStartOf(table, filters, plan),
    })
    .from(table);
}

type PreparedPage = { execute(values: Record<string, unknown>): Promise<unknown[]> };

/**
 * Pages prepared per database handle and shape. Bounded: a client could
 * vary the shape (`missions(first: n)` for every n), and each shape is
 * also a statement kept by every connection it ran on.
 */
const preparedPages = new WeakMap<Database, LRUCache<string, PreparedPage>>();

function preparedPage<V>(
  db: Database,
  table: PgTable,
  spec: KeysetSpec<V>,
  options: KeysetPageOptions,
  shape: string,
): PreparedPage {
  const { window } = spec;
  const key = [
    getTableName(table),
    spec.orderColumn.name,
    spec.idColumn.name,
    spec.valueType,
    spec.direction,
    window.backward ? 'backward' : 'forward',
    window.after ? 'after' : '',
    window.before ? 'before' : '',
    Object.keys(options.columns ?? {}).join(','),
    shape,
  ].join('|');
  let pages = preparedPages.get(db);
  if (!pages) {
    pages = new LRUCache({ max: 200 });
    preparedPages.set(db, pages);
  }
  let page = pages.get(key);
  if (!page) {
    const plan = planKeyset(spec, 'placeholders');
    const query = pageSelect(db, table, [], plan, options)
      .where(and(...plan.bounds))
      .orderBy(...plan.orderBy)
      .limit(sql.placeholder('fetch'));
    page = query.prepare(preparedStatementName(query.toSQL().sql));
    pages.set(key, page);
  }
  return page;
}

/**
 * The ids of a page found as `boundedWalk` describes, in one statement. The
 * walk runs over a derived table named like the table, so the filters'
 * column references resolve to it unchanged. The fallback orders by
 * `column || ''` (`column + 0` for integers: the same order) so that the
 * planner cannot answer it by walking the order index again, and runs only
 * when the walk came up short (a one-time filter on the walk's count).
 */
function boundedWalkIds<V>(
  table: PgTable,
  filters: SQL[],
  spec: KeysetSpec<V>,
  plan: KeysetPlan,
  walk: { columns: AnyPgColumn[]; rows: number },
): SQL {
  const scanAscending = (spec.direction === 'ASC') !== spec.window.backward;
  const dir = sql.raw(scanAscending ? 'ASC' : 'DESC');
  const columns = sql.join(
    walk.columns.map((column) => sql.identifier(column.name)),
    sql`, `,
  );
  const bounds = and(...plan.bounds) ?? sql`true`;
  const matches = and(...filters) ?? sql`true`;
  const opaqueOrder =
    spec.valueType === 'text' ? sql`(${spec.orderColumn} || '')` : sql`(${spec.orderColumn} + 0)`;
  return sql`
    WITH walk AS MATERIALIZED (
      SELECT ${spec.idColumn} AS id
      FROM (
        SELECT ${columns} FROM ${table} WHERE ${bounds}
        ORDER BY ${sql.join(plan.orderBy, sql`, `)} LIMIT ${walk.rows}
      ) AS ${sql.identifier(getTableName(table))}
      WHERE ${matches}
      ORDER BY ${sql.join(plan.orderBy, sql`, `)} LIMIT ${plan.fetch}
    ),
    fallback AS (
      SELECT ${spec.idColumn} AS id FROM ${table}
      WHERE ${matches} AND ${bounds} AND (SELECT count(*) FROM walk) < ${plan.fetch}
      ORDER BY ${opaqueOrder} ${dir}, ${spec.idColumn} ${dir} LIMIT ${plan.fetch}
    )
    SELECT id FROM walk WHERE (SELECT count(*) FROM walk) >= ${plan.fetch}
    UNION ALL
    SELECT id FROM fallback`;
}
