import { bigint, boolean, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * One row per mutation attempt. A successful write commits in the same
 * transaction as its row; a refused or failed attempt gets a row of its own.
 * `details` is a summary chosen by the mutation (ids, changed field names,
 * error codes): never a token or a secret.
 */
export const auditLogs = pgTable(
  'audit_logs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    actor: text('actor').notNull(),
    operation: text('operation').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id'),
    success: boolean('success').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    // The list pages newest first by id; filters narrow it by these.
    index('audit_logs_at_idx').on(t.at),
    index('audit_logs_actor_id_idx').on(t.actor, t.id),
    index('audit_logs_operation_id_idx').on(t.operation, t.id),
  ],
);

export type AuditLogRow = typeof auditLogs.$inferSelect;
