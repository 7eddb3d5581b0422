import type pg from 'pg';
import { createCountingClientClass, type SqlStatementCounter } from '../db/client.js';
import type { Logger } from '../logger.js';

/**
 * The LISTEN side of change detection: one dedicated connection, kept alive
 * forever.
 *
 * Shape (after PostGraphile's `PgSubscriber`, grafast
 * `dataplan-pg/src/adaptors/pg.ts`): a single listening client that is never
 * borrowed from a pool (a pooled client would be handed back, reused by a
 * query, or reaped as idle, and its LISTEN with it), connection work
 * serialized through one loop so a reconnect never races a stop, capped
 * backoff between attempts, and an explicit `stop()` that releases the
 * connection.
 *
 * **Heartbeat.** The product promise is that an idle server sends *zero* SQL
 * statements while nothing changes (the tests count them), so there is no
 * periodic `SELECT 1`. A dead connection is noticed in two ways instead:
 * - the server closing it (restart, `pg_terminate_backend`, idle timeouts,
 *   a proxy dropping it) reaches the client at once as an `'error'` and/or
 *   `'end'` event;
 * - a silently dead peer (network partition, host gone) is found by TCP
 *   keepalive, which the kernel runs below SQL: after `keepAliveMs` of
 *   silence it sends probes, and when they go unanswered the socket fails
 *   and pg emits `'error'`/`'end'`. Detection then takes `keepAliveMs` plus
 *   the OS probe interval times the probe count.
 * Either event starts the reconnect loop.
 *
 * **Resync.** Notifications sent while no session listens are lost, not
 * queued. `onConnected` runs after every successful LISTEN so the caller can
 * flush caches and recompute.
 */
export interface NotifyListenerOptions {
  /** Server to listen on. The listener opens its own connection, outside any pool. */
  connectionString: string;
  /** Channel to LISTEN on, e.g. `CHANGES_CHANNEL`. */
  channel: string;
  /** Counts the listener's statements (LISTEN, once per connection) with everyone else's. */
  counter: SqlStatementCounter;
  log: Logger;
  /** Cap of the reconnect delay; the delay doubles from 100 ms up to it, fully jittered. */
  maxBackoffMs: number;
  /**
   * Idle time before the kernel starts TCP keepalive probes on the listening
   * socket: the heartbeat (see the module comment). `config.changes.heartbeatMs`.
   */
  keepAliveMs: number;
  /**
   * `application_name` of the connection, so operators (and tests) can find it
   * in `pg_stat_activity`. Default `consultator-listener`.
   */
  applicationName?: string;
  /** Gives up a connection attempt after this long (then backs off and retries). Default 10 s. */
  connectTimeoutMs?: number;
  /** Each notification's payload on `channel` (empty string when it had none). */
  onNotification(payload: string): void;
  /**
   * After every successful LISTEN. `reconnect` is true when an earlier
   * connection existed: notifications may have been missed, so resync.
   */
  onConnected(info: { reconnect: boolean }): void;
  /** When an established connection is lost (not when an attempt fails, nor on `stop()`). */
  onDisconnected(error?: Error): void;
}

export interface NotifyListener {
  /**
   * Starts the connect loop and resolves once the first attempt has finished,
   * whether it succeeded or not (check {@link connected}); a failed first
   * attempt keeps retrying in the background. Never rejects. Idempotent.
   */
  start(): Promise<void>;
  /** Closes the connection, cancels pending retries; nothing reconnects afterwards. Idempotent. */
  stop(): Promise<void>;
  /** True while the connection is up and LISTENing. */
  readonly connected: boolean;
  /** How many times the connection was re-established after a previous one was lost. */
  readonly reconnects: number;
}

const INITIAL_BACKOFF_MS = 100;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_APPLICATION_NAME = 'consultator-listener';

/**
 * "Full jitter" exponential backoff: a uniform delay in [0, min(cap, 100 ms × 2^attempt)].
 * Spreading the retries keeps several API instances that lost the server at
 * the same moment from reconnecting in lockstep.
 */
export function backoffDelay(attempt: number, maxBackoffMs: number, random = Math.random): number {
  const ceiling = Math.min(maxBackoffMs, INITIAL_BACKOFF_MS * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Aborts a client that has not finished connecting. `client.end()` is no use
 * there: pg then never settles the pending `connect()` and only lets go of
 * the socket when the connect timeout fires. Destroying the socket makes
 * `connect()` reject at once. Reaches into pg's `connection.stream`, which
 * has been stable across pg 8; without it we fall back to `end()`.
 */
function abortConnecting(client: pg.Client): void {
  const internals = client as unknown as { connection?: { stream?: { destroy?: () => void } } };
  const destroy = internals.connection?.stream?.destroy;
  if (typeof destroy === 'function') destroy.call(internals.connection?.stream);
  else client.end().catch(() => {});
}

/**
 * Builds a {@link NotifyListener}: a dedicated `pg.Client` that LISTENs on one
 * channel and reconnects forever with capped, jittered exponential backoff.
 * Opens nothing until `start()`.
 *
 * @example
 * const listener = createNotifyListener({
 *   connectionString, channel: CHANGES_CHANNEL, counter, log,
 *   maxBackoffMs: config.changes.maxBackoffMs, keepAliveMs: config.changes.heartbeatMs,
 *   onNotification: (payload) => …, onConnected: () => resync(), onDisconnected: () => …,
 * });
 * await listener.start();
 */
export function createNotifyListener(options: NotifyListenerOptions): NotifyListener {
  const { channel, log } = options;
  const CountingClient = createCountingClientClass(options.counter);
  const applicationName = options.applicationName ?? DEFAULT_APPLICATION_NAME;

  let started = false;
  let stopped = false;
  /** The client of the current attempt or connection; at most one exists at a time. */
  let client: pg.Client | undefined;
  let connected = false;
  let everConnected = false;
  let reconnects = 0;
  /** Failed attempts since the last success: drives the backoff. */
  let failures = 0;
  let downSince = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  /** The attempt in progress, so `stop()` can wait for it to let go of its client. */
  let attempt: Promise<void> | undefined;
  let firstAttempt: Promise<void> | undefined;
  /** Rejects on `stop()`, so an attempt never outlives it whatever pg does. */
  let rejectStopped: ((error: Error) => void) | undefined;
  const stoppedSignal = new Promise<never>((_, reject) => {
    rejectStopped = reject;
  });
  stoppedSignal.catch(() => {});

  function scheduleRetry(): void {
    if (stopped || retryTimer || attempt) return;
    const delay = backoffDelay(failures, options.maxBackoffMs);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void runAttempt();
    }, delay);
  }

  /** Called once per lost connection, whichever of 'error' and 'end' comes first. */
  function connectionLost(lost: pg.Client, error?: Error): void {
    if (lost !== client) return;
    client = undefined;
    const wasConnected = connected;
    connected = false;
    // Whatever state the socket is in, let go of it; errors here say nothing new.
    lost.end().catch(() => {});
    if (stopped) return;
    if (wasConnected) {
      downSince = Date.now();
      log.warn({ err: error, channel }, 'change listener: connection lost, reconnecting');
      try {
        options.onDisconnected(error);
      } catch (callbackError) {
        log.error({ err: callbackError }, 'change listener: onDisconnected failed');
      }
    }
    scheduleRetry();
  }

  async function connectOnce(): Promise<pg.Client> {
    const next = new CountingClient({
      connectionString: options.connectionString,
      application_name: applicationName,
      keepAlive: true,
      keepAliveInitialDelayMillis: options.keepAliveMs,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
    client = next;
    // Installed before connect(): an 'error' event without a listener would crash the process.
    next.on('error', (error) => connectionLost(next, error));
    next.on('end', () => connectionLost(next));
    next.on('notification', (message) => {
      if (message.channel !== channel || next !== client || stopped) return;
      try {
        options.onNotification(message.payload ?? '');
      } catch (error) {
        log.error({ err: error, channel }, 'change listener: onNotification failed');
      }
    });
    const connecting = next.connect();
    connecting.catch(() => {});
    await Promise.race([connecting, stoppedSignal]);
    const listening = next.query(`LISTEN ${next.escapeIdentifier(channel)}`);
    listening.catch(() => {});
    await Promise.race([listening, stoppedSignal]);
    return next;
  }

  async function runAttempt(): Promise<void> {
    if (stopped || attempt) return;
    attempt = (async () => {
      try {
        const established = await connectOnce();
        // Its 'error'/'end' already fired (and dropped it): not listening after all.
        if (established !== client) throw new Error('connection lost while starting to listen');
      } catch (error) {
        const failed = client;
        client = undefined;
        failed?.end().catch(() => {});
        if (stopped) return;
        failures += 1;
        if (failures === 1) downSince ||= Date.now();
        // One warning per outage; the retries in between would only repeat it.
        const level = failures === 1 ? 'warn' : 'debug';
        log[level](
          { err: asError(error), channel, attempt: failures },
          'change listener: cannot connect, retrying with backoff',
        );
        return;
      }
      if (stopped) {
        const done = client;
        client = undefined;
        await done?.end().catch(() => {});
        return;
      }
      const reconnect = everConnected;
      if (reconnect) reconnects += 1;
      everConnected = true;
      connected = true;
      if (failures > 0 || reconnect) {
        log.info(
          { channel, attempts: failures + 1, downMs: downSince ? Date.now() - downSince : 0 },
          'change listener: listening again',
        );
      } else {
        log.debug({ channel, applicationName }, 'change listener: listening');
      }
      failures = 0;
      downSince = 0;
      try {
        options.onConnected({ reconnect });
      } catch (error) {
        log.error({ err: error }, 'change listener: onConnected failed');
      }
    })();
    try {
      await attempt;
    } finally {
      attempt = undefined;
    }
    // A failed attempt, or a connection lost while the attempt was still
    // finishing (its 'end' found `attempt` set and could not schedule).
    if (!stopped && !client) scheduleRetry();
  }

  return {
    start() {
      if (stopped) return Promise.resolve();
      if (!started) {
        started = true;
        firstAttempt = runAttempt();
      }
      return firstAttempt ?? Promise.resolve();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const current = client;
      const wasConnected = connected;
      client = undefined;
      connected = false;
      rejectStopped?.(new Error('change listener stopped'));
      if (current && !wasConnected) abortConnecting(current);
      // A graceful goodbye (Terminate) for an established connection; the
      // server then drops the session, and its LISTEN with it.
      const ended = wasConnected ? current?.end().catch(() => {}) : undefined;
      await attempt?.catch(() => {});
      await ended;
    },
    get connected() {
      return connected;
    },
    get reconnects() {
      return reconnects;
    },
  };
}
