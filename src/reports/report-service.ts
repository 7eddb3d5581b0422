import { createHash } from 'node:crypto';
import type { ChangeTable } from '../db/change-contract.js';
import type { Database } from '../db/client.js';
import {
  computeUtilization,
  deleteExpiredReports,
  deleteReportsUpTo,
  findCachedReport,
  readReportDataVersion,
  storeReport,
  type UtilizationParams,
  type UtilizationRow,
} from '../db/queries/reports.js';

export interface UtilizationReport extends UtilizationParams {
  rows: UtilizationRow[];
  /** Served from the cache rather than computed for this request. */
  cacheHit: boolean;
  computedAt: Date;
  /** The data version it was computed at. */
  dataVersion: string;
}

export interface ReportService {
  utilization(
    params: UtilizationParams,
    options?: { forceRefresh?: boolean },
  ): Promise<UtilizationReport>;
  /** Called with the tables of each change event (no SQL here: see below). */
  tablesChanged(tables: Iterable<ChangeTable>): void;
  deleteExpired(): Promise<number>;
}

/** Tables the reports read; a write to any of them makes cached reports stale. */
const REPORT_TABLES: ReadonlySet<ChangeTable> = new Set([
  'missions',
  'consultants',
  'consultant_skills',
  'practices',
  'skills',
]);

/** Bump when a report's definition changes: old entries then never match. */
const UTILIZATION_DEFINITION = 1;

/** A stable hash of the normalized parameters: fixed key order, canonical dates. */
export function utilizationParamsHash(params: UtilizationParams): string {
  const normalized = JSON.stringify([
    'utilization',
    UTILIZATION_DEFINITION,
    params.from,
    params.to,
    params.groupBy,
  ]);
  return createHash('sha256').update(normalized).digest('hex');
}

/**
 * Reports cached in the database by parameter hash and data version, so
 * they survive restarts and are shared by every instance.
 *
 * The data version is a sequence that writers bump before they commit, so a
 * report computed between a writer's bump and its commit would carry the
 * new version with the old data. Change events (which arrive after the
 * commit) close that window: after one, the next lookup first deletes every
 * entry computed at or before the current version. Nothing is sent to the
 * database at event time, so writes cost nothing extra while nobody reads
 * reports.
 */
export function createReportService(options: { db: Database; ttlMs: number }): ReportService {
  const { db, ttlMs } = options;
  let changedSinceLastLookup = false;
  // Concurrent identical requests share one computation.
  const inFlight = new Map<string, Promise<UtilizationReport>>();

  async function compute(
    params: UtilizationParams,
    paramsHash: string,
    forceRefresh: boolean,
  ): Promise<UtilizationReport> {
    if (changedSinceLastLookup) {
      changedSinceLastLookup = false;
      await deleteReportsUpTo(db, await readReportDataVersion(db));
    }
    const dataVersion = await readReportDataVersion(db);
    if (!forceRefresh) {
      const cached = await findCachedReport(db, paramsHash, dataVersion, ttlMs);
      if (cached) {
        return {
          ...params,
          rows: cached.rows as UtilizationRow[],
          cacheHit: true,
          computedAt: cached.computedAt,
          dataVersion: cached.dataVersion.toString(),
        };
      }
    }
    const rows = await computeUtilization(db, params);
    const stored = await storeReport(db, {
      paramsHash,
      report: 'utilization',
      params: { ...params },
      dataVersion,
      rows,
    });
    return {
      ...params,
      rows,
      cacheHit: false,
      computedAt: stored.computedAt,
      dataVersion: dataVersion.toString(),
    };
  }

  return {
    utilization(params, { forceRefresh = false } = {}) {
      const paramsHash = utilizationParamsHash(params);
      const key = `${paramsHash}:${forceRefresh}`;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = compute(params, paramsHash, forceRefresh).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },
    tablesChanged(tables) {
      for (const table of tables) if (REPORT_TABLES.has(table)) changedSinceLastLookup = true;
    },
    deleteExpired: () => deleteExpiredReports(db, ttlMs),
  };
}
