import { getTableColumns, type InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';

/**
 * Maps a row of a raw `db.execute` (snake_case names, driver values) to the
 * table's select model, with each column's own decoder, so batched SQL that
 * the query builder cannot express (unnest + LATERAL) still yields the same
 * objects as the builder does.
 */
export function mapRawRow<T extends PgTable>(
  table: T,
  raw: Record<string, unknown>,
  prefix = '',
): InferSelectModel<T> {
  const out: Record<string, unknown> = {};
  for (const [key, column] of columnsOf(table)) {
    const value = raw[prefix + column.name];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out as InferSelectModel<T>;
}

type ColumnEntries = [string, ReturnType<typeof getTableColumns<PgTable>>[string]][];
const columnLists = new WeakMap<PgTable, ColumnEntries>();

/** A table's columns as a list, built once: this runs for every row of a batched read. */
function columnsOf(table: PgTable): ColumnEntries {
  let list = columnLists.get(table);
  if (!list) {
    list = Object.entries(getTableColumns(table));
    columnLists.set(table, list);
  }
  return list;
}
