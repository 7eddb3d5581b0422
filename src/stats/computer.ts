import { randomUUID } from 'node:crypto';
import type { StatsClient } from './connection.js';
import { foldStats } from './fold.js';
import type { Computed, ComputeRequest } from './publisher.js';
import {
  computeDashboardStatsFromScratch,
  type DashboardStatsSnapshot,
  readPublishedSnapshot,
} from './snapshot.js';

/** How many top skills the shared snapshot holds; the GraphQL fields slice it per client. */
export const TOP_SKILLS_COMPUTED = 50;

/** How soon to look again at silent writers still running for over a second (idle in transaction?). */
const OLD_WRITERS_RECHECK_MS = 1_000;

export interface StatsComputerOptions {
  /** Where the statistics are read; a connection is borrowed per computation. */
  pool: StatsClient;
  /**
   * Whether the change triggers are installed (`ChangeDetector.status`):
   * `false` means the summary tables are not maintained, so compute from the
   * base tables. `null` (not known yet) trusts the summary.
   */
  triggersInstalled: () => boolean | null;
  /** Minimum spacing between folds (`STATS_COALESCE_MS`): how soon a promised follow-up runs. */
  coalesceMs: number;
  /** Names this instance in the wake-up window; default a random UUID. */
  instanceId?: string;
}

export interface StatsComputer {
  /** One fold + snapshot (one statement, usually); for the publisher's `compute`. */
  compute(request: ComputeRequest): Promise<Computed<DashboardStatsSnapshot>>;
  /** The snapshot another instance's fold published, without folding; for `readPublished`. */
  readPublished(): Promise<DashboardStatsSnapshot | null>;
  readonly instanceId: string;
}

/**
 * Builds what the stats publisher calls once per (coalesced) change.
 *
 * With the triggers installed, aggregates are folded from the deltas and read
 * from the incrementally maintained summary (constant cost), versioned by the
 * database so every instance agrees. This instance's side of the wake-up
 * protocol (docs/live-stats.md, "Wake-ups") lives here: in a burst the fold
 * keeps writers silent and asks for a follow-up; the follow-up that finds
 * nothing closes the window and looks for writers that stayed silent, asking
 * for another follow-up while some are still running.
 *
 * Without the triggers (a role that cannot create them, polling), the
 * aggregates are computed from the base tables and versioned locally: the
 * version moves when the numbers do.
 */
export function createStatsComputer(options: StatsComputerOptions): StatsComputer {
  const { pool, coalesceMs } = options;
  const instanceId = options.instanceId ?? randomUUID();
  let localVersion = 0n;
  let lastFingerprint = '';
  // The last fold found silent writers still running: look again after the next.
  let recheckPending = false;

  async function fromScratch(): Promise<Computed<DashboardStatsSnapshot>> {
    const snapshot = await computeDashboardStatsFromScratch(pool, {
      topSkills: TOP_SKILLS_COMPUTED,
    });
    const fingerprint = JSON.stringify({ ...snapshot, computedAt: null, version: null });
    if (fingerprint !== lastFingerprint) {
      lastFingerprint = fingerprint;
      localVersion += 1n;
    }
    return { snapshot: { ...snapshot, version: localVersion.toString() } };
  }

  return {
    instanceId,
    async compute(request) {
      if (options.triggersInstalled() === false) return fromScratch();
      const outcome = await foldStats(pool, {
        topSkills: TOP_SKILLS_COMPUTED,
        instance: instanceId,
        keepWindow: request.burst && !request.final,
        checkPending: recheckPending,
        // A final fold keeps no promise: whoever is still listening folds for it.
        wake: request.final,
      });
      const snapshot = outcome.snapshot;
      if (!snapshot) throw new Error('the fold returned no snapshot');
      recheckPending = false;
      if (request.final) return { snapshot };
      if (outcome.windowOpen) return { snapshot, followUpInMs: coalesceMs };
      const pending = outcome.pending;
      if (pending && (pending.young.length > 0 || pending.leftover.length > 0)) {
        recheckPending = true;
        return { snapshot, followUpInMs: coalesceMs };
      }
      if (pending && pending.old.length > 0) {
        recheckPending = true;
        return { snapshot, followUpInMs: OLD_WRITERS_RECHECK_MS };
      }
      return { snapshot };
    },
    async readPublished() {
      if (options.triggersInstalled() === false) return null;
      return readPublishedSnapshot(pool, { topSkills: TOP_SKILLS_COMPUTED });
    },
  };
}
