import type { ChangeTable } from '../db/change-contract.js';
import type { Logger } from '../logger.js';
import { LatestValueChannel } from './latest-value-channel.js';

/** Tables whose writes can move a dashboard aggregate (documents cannot). */
export const STATS_TABLES: ReadonlySet<ChangeTable> = new Set<ChangeTable>([
  'consultants',
  'missions',
  'consultant_skills',
  'practices',
  'skills',
]);

export interface VersionedSnapshot {
  /** Monotonic across every instance sharing the database (a decimal bigint). */
  version: string;
}

/**
 * Where the current snapshot lives between changes (the `stats` cache of
 * src/cache/ fits): entries are dropped by table tags on change.
 */
export interface SnapshotCache<S> {
  getOrLoad(key: string, tags: readonly string[], load: () => Promise<S>): Promise<S>;
}

export interface StatsPublisherOptions<S extends VersionedSnapshot> {
  /** Reads the aggregates; called at most once per coalescing window. */
  compute: () => Promise<S>;
  /**
   * Where the current snapshot lives between changes: entries are dropped by
   * table tags on change, so queries and the push path share one recompute.
   */
  cache: SnapshotCache<S>;
  /**
   * Minimum spacing between recomputes. A change after a quiet period is
   * recomputed at once (lowest latency); changes arriving within the window
   * of the last recompute are folded into one recompute at the window's end,
   * which is also the longest a steady stream of writes can delay a push.
   */
  coalesceMs: number;
  log: Logger;
  /** Called with the time from the first unpushed change to the push that carries it. */
  onChangePushed?: (milliseconds: number) => void;
}

export interface StatsPublisherMetrics {
  recomputes: number;
  pushes: number;
  readonly subscribers: number;
  failures: number;
}

/**
 * Turns change events into pushes: a burst of writes becomes one recompute
 * per window, whatever the number of subscribers, and a subscriber receives
 * only versions newer than the last it saw.
 */
export interface StatsPublisher<S extends VersionedSnapshot> {
  /** Schedules a recompute if any of `tables` feeds the aggregates. */
  tablesChanged(tables: Iterable<ChangeTable>): void;
  /**
   * Recomputes now-ish (still coalesced) and pushes even if the version did
   * not move: used after a listener reconnect, when changes may have been missed.
   */
  resync(): void;
  /** The latest snapshot, computing it if none is known yet. */
  current(): Promise<S>;
  /** Newest-only stream: the current snapshot first, then every newer version. */
  subscribe(options?: { minIntervalMs?: number }): AsyncIterableIterator<S>;
  readonly metrics: StatsPublisherMetrics;
  /** Ends every subscription and cancels pending work. */
  stop(): void;
}

const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;

function newerThan(a: string, b: string): boolean {
  return BigInt(a) > BigInt(b);
}

export function createStatsPublisher<S extends VersionedSnapshot>(
  options: StatsPublisherOptions<S>,
): StatsPublisher<S> {
  const { log } = options;
  const channels = new Set<LatestValueChannel<S>>();
  const metrics: StatsPublisherMetrics = {
    recomputes: 0,
    pushes: 0,
    failures: 0,
    get subscribers() {
      return channels.size;
    },
  };
  const cacheKey = 'dashboard';
  const cacheTags = [...STATS_TABLES];
  // The last snapshot pushed: what "newer" is measured against.
  let latest: S | null = null;
  let computing: Promise<S> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  // Start of the last recompute that found a new version: the throttle window
  // runs from there. A recompute that found nothing new (e.g. the fold's own
  // wake-up echo) does not hold back the next real change.
  let lastChangeStartedAt = 0;
  // When the oldest change not yet pushed reached us (0: none pending).
  let changePendingSince = 0;
  let dirtyWhileComputing = false;
  let forcePush = false;
  let stopped = false;
  let failuresInARow = 0;

  function compute(): Promise<S> {
    if (computing) return computing;
    metrics.recomputes += 1;
    const startedAt = Date.now();
    computing = options
      .compute()
      .then((snapshot) => {
        const previous = latest;
        latest = snapshot;
        const moved = previous === null || newerThan(snapshot.version, previous.version);
        if (moved) lastChangeStartedAt = startedAt;
        if (moved || forcePush) {
          forcePush = false;
          metrics.pushes += 1;
          if (changePendingSince > 0) {
            options.onChangePushed?.(Date.now() - changePendingSince);
            changePendingSince = 0;
          }
          for (const channel of channels) channel.push(snapshot);
        }
        return snapshot;
      })
      .finally(() => {
        computing = null;
        if (dirtyWhileComputing && !stopped) {
          dirtyWhileComputing = false;
          schedule();
        }
      });
    return computing;
  }

  function current(): Promise<S> {
    return options.cache.getOrLoad(cacheKey, cacheTags, compute);
  }

  function fire(): void {
    timer = null;
    if (computing) {
      // A change arrived after this recompute read the data: read again once it ends.
      dirtyWhileComputing = true;
      return;
    }
    // A query may already have recomputed (and pushed) since the change: then this is a cache hit.
    current().then(
      () => {
        failuresInARow = 0;
      },
      (error: unknown) => {
        metrics.failures += 1;
        failuresInARow += 1;
        // One line per outage; the retries in between would only repeat it.
        log[failuresInARow === 1 ? 'error' : 'debug'](
          { err: error, attempt: failuresInARow },
          'stats recompute failed; retrying',
        );
        retryAfterFailure();
      },
    );
  }

  /**
   * The change that asked for the failed recompute (a connection lost, a
   * restart) is still unpushed, and no other change may ever come: retry on
   * a capped, doubling delay rather than leave subscribers on stale numbers.
   */
  function retryAfterFailure(): void {
    if (stopped || timer || computing) return;
    const delay = Math.min(
      RETRY_MAX_MS,
      Math.max(options.coalesceMs, RETRY_INITIAL_MS) * 2 ** (failuresInARow - 1),
    );
    timer = setTimeout(fire, delay);
  }

  function schedule(): void {
    // Already due: that recompute will read this change too.
    if (stopped || timer) return;
    if (computing) {
      dirtyWhileComputing = true;
      return;
    }
    const delay = Math.max(0, lastChangeStartedAt + options.coalesceMs - Date.now());
    timer = setTimeout(fire, delay);
  }

  return {
    metrics,
    tablesChanged(tables) {
      for (const table of tables) {
        if (STATS_TABLES.has(table)) {
          if (changePendingSince === 0) changePendingSince = Date.now();
          schedule();
          return;
        }
      }
    },
    resync() {
      if (changePendingSince === 0) changePendingSince = Date.now();
      forcePush = true;
      schedule();
    },
    current,
    subscribe({ minIntervalMs = 0 } = {}) {
      const channel = new LatestValueChannel<S>(minIntervalMs, () => channels.delete(channel));
      channels.add(channel);
      if (latest) channel.push(latest);
      else {
        current().catch((error: unknown) => {
          metrics.failures += 1;
          log.error({ err: error }, 'initial stats computation failed');
          channel.close();
        });
      }
      return channel;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const channel of [...channels]) channel.close();
    },
  };
}
