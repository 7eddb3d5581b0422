import type { StatsClient } from './connection.js';
import { readDashboardStats } from './fold.js';
import { computeDashboardStatsFromScratch, type DashboardStatsSnapshot } from './snapshot.js';

/** How many top skills the shared snapshot holds; the GraphQL fields slice it per client. */
export const TOP_SKILLS_COMPUTED = 50;

export interface StatsComputerOptions {
  /** Where the statistics are read; a connection is borrowed per computation. */
  pool: StatsClient;
  /**
   * Whether the change triggers are installed (`ChangeDetector.status`):
   * `false` means the summary tables are not maintained, so compute from the
   * base tables. `null` (not known yet) trusts the summary.
   */
  triggersInstalled: () => boolean | null;
}

/**
 * Builds the function the stats publisher calls once per (coalesced) change.
 *
 * With the triggers installed, aggregates are read from the incrementally
 * maintained summary (constant cost) and versioned by the database, so
 * every instance agrees. Without them (a role that cannot create triggers,
 * polling), they are computed from the base tables and versioned locally:
 * the version moves when the numbers do.
 */
export function createStatsComputer(
  options: StatsComputerOptions,
): () => Promise<DashboardStatsSnapshot> {
  const { pool } = options;
  let localVersion = 0n;
  let lastFingerprint = '';
  return async () => {
    if (options.triggersInstalled() !== false) {
      return readDashboardStats(pool, { topSkills: TOP_SKILLS_COMPUTED });
    }
    const snapshot = await computeDashboardStatsFromScratch(pool, {
      topSkills: TOP_SKILLS_COMPUTED,
    });
    const fingerprint = JSON.stringify({ ...snapshot, computedAt: null, version: null });
    if (fingerprint !== lastFingerprint) {
      lastFingerprint = fingerprint;
      localVersion += 1n;
    }
    return { ...snapshot, version: localVersion.toString() };
  };
}
