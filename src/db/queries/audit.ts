import { and, desc, eq, gte, lt, lte, type SQL, sql } from 'drizzle-orm';
import { type AuditLogRow, auditLogs } from '../schema/index.js';
import type { Executor } from './executor.js';
import type { PageResult } from './keyset.js';

export interface AuditEntry {
  actor: string;
  operation: string;
  resourceType: string;
  resourceId?: string | null;
  success: boolean;
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  actor?: string | null;
  operation?: string | null;
  resourceType?: string | null;
  success?: boolean | null;
  from?: Date | null;
  to?: Date | null;
}

export async function insertAuditLog(db: Executor, entry: AuditEntry): Promise<AuditLogRow> {
  const [row] = await db
    .insert(auditLogs)
    .values({ ...entry, resourceId: entry.resourceId ?? null, details: entry.details ?? {} })
    .returning();
  if (!row) throw new Error('audit insert returned no row');
  return row;
}

function conditions(filter: AuditFilter): SQL[] {
  const where: SQL[] = [];
  if (filter.actor != null) where.push(eq(auditLogs.actor, filter.actor));
  if (filter.operation != null) where.push(eq(auditLogs.operation, filter.operation));
  if (filter.resourceType != null) where.push(eq(auditLogs.resourceType, filter.resourceType));
  if (filter.success != null) where.push(eq(auditLogs.success, filter.success));
  if (filter.from != null) where.push(gte(auditLogs.at, filter.from));
  if (filter.to != null) where.push(lte(auditLogs.at, filter.to));
  return where;
}

/** Newest first; `afterId` is the last id of the previous page. */
export async function pageAuditLogs(
  db: Executor,
  filter: AuditFilter,
  limit: number,
  afterId: number | null,
): Promise<PageResult<AuditLogRow>> {
  const where = conditions(filter);
  if (afterId !== null) where.push(lt(auditLogs.id, afterId));
  const rows = await db
    .select()
    .from(auditLogs)
    .where(and(...where))
    .orderBy(desc(auditLogs.id))
    .limit(limit + 1);
  return {
    rows: rows.slice(0, limit),
    hasNextPage: rows.length > limit,
    hasPreviousPage: afterId !== null,
  };
}

/**
 * Sets the attempt count of an aggregated refusal row (see
 * src/audit/refusal-audit.ts) and when the last one happened.
 */
export async function setAuditAttemptCount(
  db: Executor,
  id: number,
  attempts: number,
): Promise<void> {
  await db
    .update(auditLogs)
    .set({
      details: sql`${auditLogs.details} || jsonb_build_object('count', ${attempts}::int, 'lastAt', now())`,
    })
    .where(eq(auditLogs.id, id));
}

export async function countAuditLogs(db: Executor, filter: AuditFilter): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(auditLogs)
    .where(and(...conditions(filter)));
  return row?.n ?? 0;
}

export interface AuditStatsRow {
  operation: string;
  success: boolean;
  count: number;
}

/** Attempts per operation and outcome, within the filter; an aggregated refusal row counts its attempts. */
export async function auditStats(db: Executor, filter: AuditFilter): Promise<AuditStatsRow[]> {
  return db
    .select({
      operation: auditLogs.operation,
      success: auditLogs.success,
      count: sql<number>`sum(coalesce((${auditLogs.details}->>'count')::int, 1))::int`,
    })
    .from(auditLogs)
    .where(and(...conditions(filter)))
    .groupBy(auditLogs.operation, auditLogs.success)
    .orderBy(auditLogs.operation, desc(auditLogs.success));
}
