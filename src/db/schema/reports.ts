import { bigint, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Computed reports, one row per parameter set (`params_hash`: SHA-256 of the
 * normalized parameters). A row serves a request only while `data_version`
 * equals the current value of the `report_data_version` sequence, which
 * triggers bump on every write to the tables reports read (see the
 * `reports` migration), and while it is younger than the configured TTL.
 */
export const reportCache = pgTable(
  'report_cache',
  {
    paramsHash: text('params_hash').primaryKey(),
    report: text('report').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull(),
    dataVersion: bigint('data_version', { mode: 'bigint' }).notNull(),
    rows: jsonb('rows').$type<unknown[]>().notNull(),
    computedAt: timestamp('computed_at', { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow(),
  },
  (t) => [index('report_cache_computed_at_idx').on(t.computedAt)],
);

export type ReportCacheRow = typeof reportCache.$inferSelect;
