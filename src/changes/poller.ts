import { CHANGE_TABLES, type ChangeTable, type Queryable } from '../db/change-contract.js';
import type { Logger } from '../logger.js';
import { readChangeChecksum } from './checksum.js';

/**
 * The `poll` side of change detection, for databases where the NOTIFY
 * triggers are missing (a role that cannot create triggers) or while the
 * listener is down: every `intervalMs` it reads a cheap per-table checksum
 * (`readChangeChecksum`, constant cost whatever the table sizes, independent
 * of the triggers) and reports the tables whose checksum moved.
 *
 * Unlike the listener, polling does issue statements while nothing changes
 * (one per interval): that is its price, and why `notify` is preferred.
 */
export interface ChangePollerOptions {
  /** Where the checksum is read: the application's pool (a connection is borrowed per poll). */
  pool: Queryable;
  /** Pause between the end of one poll and the start of the next. */
  intervalMs: number;
  log: Logger;
  /** Tables whose checksum moved since the previous successful poll; never called with none. */
  onChange(tables: ChangeTable[]): void;
  /**
   * After the first successful poll since `start()`: the baseline exists and
   * later changes will be seen. Writes between whatever the caller knew
   * before and this moment are invisible to the poller (there was nothing to
   * compare with), so a caller taking over from a lost listener resyncs here.
   */
  onBaseline?(): void;
  /** The checksum query; tests substitute it. Default `readChangeChecksum`. */
  readChecksum?: (client: Queryable) => Promise<Record<ChangeTable, string>>;
}

export interface ChangePoller {
  /**
   * Takes the baseline now, then polls every `intervalMs` until `stop()`.
   * Resolves once that first poll has finished, successfully or not (a
   * failure is logged and retried on the next tick). Idempotent while running;
   * after `stop()` it starts again with a fresh baseline.
   */
  start(): Promise<void>;
  /** Cancels the next tick and waits for a poll in progress. Idempotent. */
  stop(): Promise<void>;
  /**
   * Polls now (serialized with the timer's polls) and returns the changed
   * tables, which also go to `onChange`. The first poll without a baseline
   * only records it and returns `[]`. Rejects when the query fails.
   */
  poll(): Promise<ChangeTable[]>;
  /** Whether the timer is running. */
  readonly running: boolean;
}

/**
 * Builds a {@link ChangePoller}. It opens nothing and runs nothing until
 * `start()` or `poll()`.
 *
 * Ticks are a `setTimeout` chain, not `setInterval`: the next poll is
 * scheduled when the previous one has finished, so a slow database never
 * piles polls up.
 */
export function createChangePoller(options: ChangePollerOptions): ChangePoller {
  const { log, intervalMs } = options;
  const readChecksum = options.readChecksum ?? readChangeChecksum;

  let baseline: Record<ChangeTable, string> | undefined;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  /** The poll in progress; polls run one at a time. */
  let inFlight: Promise<ChangeTable[]> | undefined;
  let failing = false;
  /**
   * Bumped by every start/stop: a tick of an earlier run cannot reschedule,
   * and a poll that straddles a start/stop neither reports nor sets the
   * new run's baseline.
   */
  let generation = 0;

  async function pollOnce(): Promise<ChangeTable[]> {
    const run = generation;
    const next = await readChecksum(options.pool);
    if (run !== generation) return [];
    const previous = baseline;
    baseline = next;
    if (!previous) {
      log.debug('change poller: baseline recorded');
      options.onBaseline?.();
      return [];
    }
    const changed = CHANGE_TABLES.filter((table) => next[table] !== previous[table]);
    if (changed.length > 0) {
      try {
        options.onChange(changed);
      } catch (error) {
        log.error({ err: error }, 'change poller: onChange failed');
      }
    }
    return changed;
  }

  function poll(): Promise<ChangeTable[]> {
    // Chain behind a poll in progress rather than share its result: a caller
    // asking now wants the state after its own write, not before it.
    const previous = inFlight ?? Promise.resolve([]);
    const current = previous.catch(() => []).then(pollOnce);
    inFlight = current;
    const clear = () => {
      if (inFlight === current) inFlight = undefined;
    };
    current.then(clear, clear);
    return current;
  }

  async function tick(run: number): Promise<void> {
    timer = undefined;
    try {
      await poll();
      if (failing) log.info('change poller: polling works again');
      failing = false;
    } catch (error) {
      // One warning per failure streak: a database that is down would
      // otherwise log every interval.
      if (!failing) {
        log.warn(
          { err: error, intervalMs },
          'change poller: cannot read the change checksum, retrying every interval',
        );
      }
      failing = true;
    }
    if (running && run === generation) timer = setTimeout(() => void tick(run), intervalMs);
  }

  let starting: Promise<void> | undefined;

  return {
    start() {
      if (running) return starting ?? Promise.resolve();
      running = true;
      generation += 1;
      // A fresh baseline: one kept from an earlier run would report every
      // change made while stopped, some of them long since handled by the listener.
      baseline = undefined;
      failing = false;
      starting = tick(generation);
      return starting;
    },
    async stop() {
      running = false;
      generation += 1;
      if (timer) clearTimeout(timer);
      timer = undefined;
      starting = undefined;
      await inFlight?.catch(() => {});
    },
    poll,
    get running() {
      return running;
    },
  };
}
