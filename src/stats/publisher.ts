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
  set(key: string, tags: readonly string[], value: S): void;
}

/** What a computation returns. */
export interface Computed<S> {
  snapshot: S;
  /**
   * Compute again after this long even if no change arrives: the fold left
   * a promise to keep (a wake-up window it owns, writers it must look at
   * again). See src/stats/computer.ts.
   */
  followUpInMs?: number;
}

export interface ComputeRequest {
  /**
   * Another computation started less than two coalescing windows ago: a
   * burst, in which the computer may let writers skip their NOTIFY because
   * it will compute again anyway.
   */
  burst: boolean;
  /** This is a follow-up asked for by the previous result. */
  followUp: boolean;
  /** Stop is under way: keep no promise that outlives it. */
  final: boolean;
}

export interface StatsPublisherOptions<S extends VersionedSnapshot> {
  /** Reads the aggregates; called at most once per coalescing window. */
  compute: (request: ComputeRequest) => Promise<Computed<S>>;
  /**
   * Reads a snapshot another instance already computed (announced through
   * {@link StatsPublisher.published}); `null` when it has none current, and
   * then `compute` runs instead.
   */
  readPublished?: () => Promise<S | null>;
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
   * Another computation (another instance's fold) published the snapshot at
   * `version`: read it if it is newer than the latest, without recomputing.
   * `windowOpen`: that instance promised to compute again; if nothing newer
   * is announced within `takeOverAfterMs`, this one computes instead (the
   * other may be gone).
   */
  published(version: string, options?: { windowOpen?: boolean }): void;
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
  /**
   * Ends every subscription and cancels pending work; when the last result
   * asked for a follow-up, runs it as a final computation first, so no
   * promise made to writers outlives this instance.
   */
  stop(): Promise<void>;
}

const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;

function newerThan(a: string, b: string): boolean {
  return BigInt(a) > BigInt(b);
}

/** How long after a `published(…, { windowOpen: true })` with nothing newer this instance takes over. */
const TAKE_OVER_AFTER_MS = 2_500;

export function createStatsPublisher<S extends VersionedSnapshot>(
  options: StatsPublisherOptions<S>,
): StatsPublisher<S> {
  const { log, coalesceMs } = options;
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
  let takeOverTimer: ReturnType<typeof setTimeout> | null = null;
  // Start of the last recompute that found a new version: the throttle window
  // runs from there. A recompute that found nothing new does not hold back
  // the next real change.
  let lastChangeStartedAt = 0;
  // Start of the last computation, whatever it found: bursts are measured from it.
  let lastComputeStartedAt = 0;
  // When the oldest change not yet pushed reached us (0: none pending).
  let changePendingSince = 0;
  let dirtyWhileComputing = false;
  let forcePush = false;
  // The previous result asked to compute again by then (0: no promise pending).
  let followUpAt = 0;
  // The newest version another instance announced and we have not read yet.
  let announced: string | null = null;
  let stopped = false;
  let failuresInARow = 0;

  function deliver(snapshot: S, startedAt: number): void {
    const previous = latest;
    if (previous !== null && newerThan(previous.version, snapshot.version)) return;
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
  }

  /** Single flight: every way of getting a snapshot goes through here. */
  function run(load: (startedAt: number) => Promise<S>): Promise<S> {
    if (computing) return computing;
    const startedAt = Date.now();
    computing = load(startedAt)
      .then((snapshot) => {
        deliver(snapshot, startedAt);
        return snapshot;
      })
      .finally(() => {
        computing = null;
        if (stopped) return;
        if (dirtyWhileComputing) {
          dirtyWhileComputing = false;
          schedule();
        } else if (announced !== null) {
          readAnnounced();
        } else if (followUpAt > 0) {
          schedule();
        }
      });
    return computing;
  }

  function computeFresh(startedAt: number, final = false): Promise<S> {
    metrics.recomputes += 1;
    const followUp = followUpAt > 0;
    const burst = lastComputeStartedAt > 0 && startedAt - lastComputeStartedAt < 2 * coalesceMs;
    lastComputeStartedAt = startedAt;
    followUpAt = 0;
    return options.compute({ burst, followUp, final }).then((computed) => {
      if (computed.followUpInMs !== undefined) {
        followUpAt = Date.now() + computed.followUpInMs;
      }
      if (announced !== null && !newerThan(announced, computed.snapshot.version)) announced = null;
      return computed.snapshot;
    });
  }

  function compute(): Promise<S> {
    return run((startedAt) => computeFresh(startedAt));
  }

  function current(): Promise<S> {
    return options.cache.getOrLoad(cacheKey, cacheTags, compute);
  }

  function reportFailure(error: unknown): void {
    metrics.failures += 1;
    failuresInARow += 1;
    // One line per outage; the retries in between would only repeat it.
    log[failuresInARow === 1 ? 'error' : 'debug'](
      { err: error, attempt: failuresInARow },
      'stats recompute failed; retrying',
    );
    retryAfterFailure();
  }

  /** Reads what another instance published, falling back to computing. */
  function readAnnounced(): void {
    const version = announced;
    if (version === null || computing) return;
    announced = null;
    if (latest && !newerThan(version, latest.version)) return;
    bypassingCache(
      run(async (startedAt) => {
        const snapshot = (await options.readPublished?.()) ?? null;
        if (snapshot && !newerThan(version, snapshot.version)) return snapshot;
        return computeFresh(startedAt);
      }),
    );
  }

  /**
   * For a snapshot obtained without asking the cache (a follow-up, a
   * published one): store it there; on failure, make the retry compute for
   * sure, whatever the cache holds.
   */
  function bypassingCache(loading: Promise<S>): void {
    loading.then(
      (snapshot) => {
        failuresInARow = 0;
        options.cache.set(cacheKey, cacheTags, snapshot);
      },
      (error: unknown) => {
        followUpAt = Date.now();
        reportFailure(error);
      },
    );
  }

  function fire(): void {
    timer = null;
    if (computing) {
      // A change arrived after this recompute read the data: read again once it ends.
      dirtyWhileComputing = true;
      return;
    }
    if (followUpAt > 0) {
      // A promise to keep: compute even if the cached snapshot looks current.
      bypassingCache(compute());
      return;
    }
    // A query may already have recomputed (and pushed) since the change: then this is a cache hit.
    current().then(() => {
      failuresInARow = 0;
    }, reportFailure);
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
    const now = Date.now();
    let at = lastChangeStartedAt + coalesceMs;
    if (followUpAt > 0 && !dirtyWhileComputing && changePendingSince === 0 && !forcePush) {
      at = followUpAt;
    }
    timer = setTimeout(fire, Math.max(0, at - now));
  }

  function armTakeOver(): void {
    if (takeOverTimer) clearTimeout(takeOverTimer);
    takeOverTimer = setTimeout(() => {
      takeOverTimer = null;
      if (stopped) return;
      // The instance that promised to fold again announced nothing since:
      // fold here (its window has expired by now, so this fold closes it
      // and looks for writers it left behind).
      followUpAt = Date.now();
      schedule();
    }, TAKE_OVER_AFTER_MS);
    takeOverTimer.unref?.();
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
    published(version, { windowOpen = false } = {}) {
      if (stopped) return;
      if (windowOpen) armTakeOver();
      else if (takeOverTimer) {
        clearTimeout(takeOverTimer);
        takeOverTimer = null;
      }
      if (latest && !newerThan(version, latest.version)) return;
      if (announced === null || newerThan(version, announced)) announced = version;
      if (changePendingSince === 0) changePendingSince = Date.now();
      readAnnounced();
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
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (takeOverTimer) clearTimeout(takeOverTimer);
      takeOverTimer = null;
      for (const channel of [...channels]) channel.close();
      await computing?.catch(() => {});
      if (followUpAt > 0) {
        // Writers may be staying silent on this instance's word: fold once
        // more, closing the window, so they are not left unannounced.
        await computeFresh(Date.now(), true).catch((error: unknown) => {
          log.warn({ err: error }, 'final stats fold failed; writers notify again within 2 s');
        });
      }
    },
  };
}
