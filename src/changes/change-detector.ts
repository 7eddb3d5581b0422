import type pg from 'pg';
import type { ChangeDetectionMode } from '../config.js';
import {
  CHANGE_TABLES,
  CHANGES_CHANNEL,
  type ChangeTable,
  checkChangeTriggers,
  parseChangePayload,
} from '../db/change-contract.js';
import type { SqlStatementCounter } from '../db/client.js';
import type { Logger } from '../logger.js';
import { createNotifyListener, type NotifyListener } from './listener.js';
import { type ChangePoller, createChangePoller } from './poller.js';

/**
 * Why an event was emitted:
 * - `notify`: a notification from the triggers (or a manual NOTIFY);
 * - `poll`: the poller saw the tables' checksums move;
 * - `resync`: the detector (re)started watching from a new point — first
 *   LISTEN, a LISTEN after a reconnect, or a fresh poll baseline — and
 *   cannot know what changed before it: treat every table as changed
 *   (flush caches, recompute, push even if the version did not move).
 */
export type ChangeReason = 'notify' | 'poll' | 'resync';

export interface ChangeEvent {
  /** Tables that may have changed; all of them for a `resync`. */
  tables: ReadonlySet<ChangeTable>;
  reason: ChangeReason;
  /**
   * Set when a fold (of any instance) announced these tables: the snapshot
   * at `version` is published, so no fold is due for them; `windowOpen`:
   * writers may stay silent until that instance folds again.
   */
  folded?: { version: string; windowOpen: boolean };
}

/** Which mechanism is currently watching; `none` before start, after stop, or while blind. */
export type ChangeSource = 'notify' | 'poll' | 'none';

export interface ChangeDetectorStatus {
  mode: ChangeDetectionMode;
  activeSource: ChangeSource;
  listenerConnected: boolean;
  /** Times the listener re-established a lost connection. */
  reconnects: number;
  /** Whether every NOTIFY trigger exists and is enabled; `null` until checked, or if the check failed. */
  triggersInstalled: boolean | null;
}

export interface ChangeDetectorOptions {
  /**
   * - `notify`: LISTEN only (needs the migration's NOTIFY triggers);
   * - `poll`: checksum polling only (any role, no trigger needed; one cheap
   *   statement per interval even when idle);
   * - `auto`: `notify` when the triggers are installed, polling while the
   *   listener is down; polling only when the triggers are missing.
   */
  mode: ChangeDetectionMode;
  /** Server the listener connects to, on a dedicated connection of its own. */
  connectionString: string;
  /** The application's pool: trigger check and checksum polls borrow from it. */
  pool: pg.Pool;
  /** Counts the listener's statements (the pool counts its own). */
  counter: SqlStatementCounter;
  log: Logger;
  /** `config.changes.pollIntervalMs`. */
  pollIntervalMs: number;
  /** `config.changes.maxBackoffMs`: cap of the listener's reconnect delay. */
  maxBackoffMs: number;
  /** `config.changes.heartbeatMs`: TCP keepalive idle time of the listening socket. */
  keepAliveMs: number;
  /** The listener's `application_name` (default `consultator-listener`). */
  listenerApplicationName?: string;
  /**
   * Every change, uncoalesced (the stats publisher coalesces bursts). Called
   * synchronously from the detector; must not throw (errors are logged).
   */
  onChange(event: ChangeEvent): void;
}

export interface ChangeDetector {
  /**
   * Checks the triggers (one statement), then starts the listener and/or the
   * poller for the mode. Resolves when the first connection or poll attempt
   * has finished, successful or not: a database that is down is retried in
   * the background, not reported as a failure. Idempotent.
   */
  start(): Promise<void>;
  /** Stops the listener and the poller; no event is emitted afterwards. Idempotent. */
  stop(): Promise<void>;
  readonly status: ChangeDetectorStatus;
}

const ALL_TABLES: ReadonlySet<ChangeTable> = new Set(CHANGE_TABLES);

/**
 * Builds the change detector: the mode logic over a {@link NotifyListener}
 * and a {@link ChangePoller}. Opens nothing until `start()`.
 *
 * In `auto` mode the poller only runs while the listener is down, so an idle
 * server with a healthy listener sends no statement at all.
 */
export function createChangeDetector(options: ChangeDetectorOptions): ChangeDetector {
  const { mode, log, pollIntervalMs } = options;

  let started: Promise<void> | undefined;
  let stopped = false;
  let triggersInstalled: boolean | null = null;
  let listener: NotifyListener | undefined;
  /** In `auto`: true once the triggers are known to be missing (polling for good). */
  let pollOnly = mode === 'poll';

  function emit(
    tables: ReadonlySet<ChangeTable>,
    reason: ChangeReason,
    folded?: ChangeEvent['folded'],
  ): void {
    if (stopped) return;
    try {
      options.onChange(folded ? { tables, reason, folded } : { tables, reason });
    } catch (error) {
      log.error({ err: error, reason }, 'change detection: onChange failed');
    }
  }

  const poller: ChangePoller = createChangePoller({
    pool: options.pool,
    intervalMs: pollIntervalMs,
    log,
    onChange: (tables) => emit(new Set(tables), 'poll'),
    // Whatever changed before the baseline is unknown: the listener may have
    // missed it (fallback) or nobody was watching yet (start).
    onBaseline: () => emit(ALL_TABLES, 'resync'),
  });

  async function checkTriggers(): Promise<boolean | null> {
    try {
      const { ok, missing } = await checkChangeTriggers(options.pool);
      if (!ok) log.debug({ missing }, 'change detection: NOTIFY triggers missing or disabled');
      return ok;
    } catch (error) {
      log.warn({ err: error }, 'change detection: cannot check the NOTIFY triggers');
      return null;
    }
  }

  /** `auto`: the listener is down, so poll until it is back. */
  function startFallback(): void {
    if (stopped || poller.running) return;
    log.warn(
      { intervalMs: pollIntervalMs },
      `change detection: listener down, polling every ${pollIntervalMs} ms`,
    );
    void poller.start();
  }

  function stopFallback(): void {
    if (!poller.running) return;
    log.info('change detection: listener back, using notify');
    void poller.stop();
  }

  /** `auto`: the triggers turned out to be missing: the listener would hear nothing. */
  async function switchToPollOnly(): Promise<void> {
    if (pollOnly || stopped) return;
    pollOnly = true;
    log.warn(
      { intervalMs: pollIntervalMs },
      `change detection: NOTIFY triggers not installed, polling every ${pollIntervalMs} ms`,
    );
    const current = listener;
    listener = undefined;
    await current?.stop();
    if (!stopped) await poller.start();
  }

  function onNotification(payload: string): void {
    const notice = parseChangePayload(payload);
    if (notice?.kind === 'table') {
      emit(new Set([notice.table]), 'notify');
      return;
    }
    if (notice?.kind === 'folded') {
      emit(new Set(notice.tables), 'notify', {
        version: notice.version,
        windowOpen: notice.windowOpen,
      });
      return;
    }
    // Outside the contract (src/db/change-contract.ts): a newer schema's table or
    // a hand-written NOTIFY. The contract says to assume anything changed.
    log.debug({ payload: payload.slice(0, 100) }, 'change detection: unknown payload, resyncing');
    emit(ALL_TABLES, 'notify');
  }

  function onConnected({ reconnect }: { reconnect: boolean }): void {
    if (mode === 'auto') stopFallback();
    log.info(
      { reconnect, channel: CHANGES_CHANNEL },
      reconnect ? 'change detection: listening again, resyncing' : 'change detection: listening',
    );
    emit(ALL_TABLES, 'resync');
    if (mode === 'auto' && triggersInstalled === null) {
      // The check failed at start (database unreachable?): the connection is
      // back, so try again; without triggers the listener hears nothing.
      void checkTriggers().then((installed) => {
        triggersInstalled = installed;
        if (installed === false) return switchToPollOnly();
      });
    }
  }

  function onDisconnected(): void {
    if (mode === 'auto' && !pollOnly) startFallback();
  }

  async function startListener(): Promise<void> {
    listener = createNotifyListener({
      connectionString: options.connectionString,
      channel: CHANGES_CHANNEL,
      counter: options.counter,
      log,
      maxBackoffMs: options.maxBackoffMs,
      keepAliveMs: options.keepAliveMs,
      applicationName: options.listenerApplicationName,
      onNotification,
      onConnected,
      onDisconnected,
    });
    await listener.start();
  }

  async function run(): Promise<void> {
    triggersInstalled = await checkTriggers();
    if (stopped) return;
    if (mode === 'poll') {
      log.info({ intervalMs: pollIntervalMs }, 'change detection: polling');
      await poller.start();
      return;
    }
    if (mode === 'notify') {
      if (triggersInstalled === false) {
        log.warn(
          'change detection: NOTIFY triggers not installed; in notify mode only manual NOTIFYs will be seen (set CHANGE_DETECTION=auto or poll)',
        );
      }
      await startListener();
      return;
    }
    // auto
    if (triggersInstalled === false) {
      await switchToPollOnly();
      return;
    }
    await startListener();
    // A failed first attempt does not count as a disconnection: poll meanwhile.
    if (!stopped && !listener?.connected && !pollOnly) startFallback();
  }

  return {
    start() {
      started ??= run();
      return started;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Stop first, then wait for start: stopping aborts a connection attempt
      // that start() may still be waiting on.
      await Promise.all([listener?.stop(), poller.stop()]);
      await started?.catch(() => {});
      await Promise.all([listener?.stop(), poller.stop()]);
    },
    get status(): ChangeDetectorStatus {
      const listenerConnected = listener?.connected ?? false;
      let activeSource: ChangeSource = 'none';
      if (!stopped) {
        if (listenerConnected) activeSource = 'notify';
        else if (poller.running) activeSource = 'poll';
      }
      return {
        mode,
        activeSource,
        listenerConnected,
        reconnects: listener?.reconnects ?? 0,
        triggersInstalled,
      };
    },
  };
}
