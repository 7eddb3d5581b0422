import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { allCaches, type Caches } from '../cache/index.js';
import { isAsyncIterable } from './plugins/results.js';

/** Live views of the app's parts; read at scrape time, so the registry never holds them alive. */
export interface MetricsSources {
  caches: Caches;
  sqlStatements: () => number;
  webSocketCount: () => number;
  webSocketOperations: () => number;
  webSocketCloses: () => ReadonlyMap<number, number> | undefined;
  stats: () =>
    | { recomputes: number; pushes: number; subscribers: number; failures: number }
    | undefined;
  /** graphql-ws statsChanged groups (src/server/stats-fanout.ts): each is one publisher subscriber. */
  statsFanOut: () => { groups: number; members: number; executions: number } | undefined;
  changes: () => { activeSource: string; mode: string; reconnects: number } | undefined;
  pool: () => { totalCount: number; idleCount: number; waitingCount: number } | undefined;
  /** `pg_notification_queue_usage()`; undefined when the database cannot answer. */
  notificationQueueUsage: () => Promise<number | undefined>;
}

/** Bounds on label values a client chooses (the operation name). */
export interface MetricLabelLimits {
  /** Distinct operation names kept as labels; later new names count as `other`. */
  maxOperationNames: number;
}

/** Longer operation names are cut to this many characters (in labels and log lines). */
export const OPERATION_NAME_MAX_LENGTH = 64;

/** An operation name as it may appear in a label or a log line: at most {@link OPERATION_NAME_MAX_LENGTH} characters. */
export function shortOperationName(name: string | undefined): string {
  if (name === undefined) return 'anonymous';
  return name.length > OPERATION_NAME_MAX_LENGTH
    ? `${name.slice(0, OPERATION_NAME_MAX_LENGTH)}…`
    : name;
}

/**
 * Operation names are chosen by clients: each distinct one would be a new
 * time series, kept for the life of the process and written out at every
 * scrape. The first `maxNames` names seen are kept (truncated), every later
 * one is counted as `other`, so the exposition stays small whatever clients send.
 */
export function createOperationLabeler(maxNames: number): (name: string | undefined) => string {
  const known = new Set<string>();
  return (name) => {
    const label = shortOperationName(name);
    if (known.has(label)) return label;
    if (known.size >= maxNames) return 'other';
    known.add(label);
    return label;
  };
}

export interface Metrics {
  registry: Registry;
  /** Counts operations, their durations and errors by code, on HTTP and WebSocket alike. */
  plugin: Plugin;
  /** Records the time from a change reaching the server to the push that carries it. */
  observeChangeToPush(milliseconds: number): void;
  /** Records one statsChanged push's WebSocket fan-out: members written, its synchronous duration and CPU. */
  observeFanOut(members: number, seconds: number, cpuSeconds: number): void;
}

/**
 * A registry of its own per app (no global default registry), so several
 * apps in one process — tests, benchmarks — never mix their numbers.
 */
export function createMetrics(
  sources: MetricsSources,
  limits: MetricLabelLimits = { maxOperationNames: 100 },
): Metrics {
  const registry = new Registry();
  const operationLabel = createOperationLabeler(limits.maxOperationNames);
  const register = [registry];

  const operations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations executed, by operation name and type.',
    labelNames: ['operation', 'type'],
    registers: register,
  });
  const durations = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'Execution time of queries and mutations, by operation name.',
    labelNames: ['operation', 'type'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: register,
  });
  const errors = new Counter({
    name: 'graphql_errors_total',
    help: 'Errors returned to clients, by extensions.code.',
    labelNames: ['code'],
    registers: register,
  });
  const changeToPush = new Histogram({
    name: 'stats_change_to_push_seconds',
    help: 'From a change notification reaching the server to the push that carries it.',
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: register,
  });

  const fanOutDuration = new Histogram({
    name: 'stats_fanout_duration_seconds',
    help: 'Synchronous time of one statsChanged push written to every WebSocket member of a group (frames corked per socket).',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: register,
  });
  const fanOutMembers = new Histogram({
    name: 'stats_fanout_members',
    help: 'WebSocket members written per statsChanged push of a group; duration sum / members sum is the cost per subscriber.',
    buckets: [1, 10, 100, 1_000, 10_000, 100_000],
    registers: register,
  });
  const fanOutCpu = new Counter({
    name: 'stats_fanout_cpu_seconds_total',
    help: 'Process CPU (user + system) spent in statsChanged WebSocket fan-outs; divided by stats_fanout_members_sum, the CPU per subscriber per push.',
    registers: register,
  });

  // Values the app already counts are copied in at scrape time.
  const mirrored = (
    name: string,
    help: string,
    read: () => number | undefined,
    kind: 'counter' | 'gauge' = 'counter',
  ) => {
    const Metric = kind === 'counter' ? Counter : Gauge;
    new Metric({
      name,
      help,
      registers: register,
      collect(this: Counter | Gauge) {
        const value = read();
        this.reset();
        if (value !== undefined) (this as Gauge).inc(value);
      },
    });
  };
  mirrored('sql_statements_total', 'SQL statements sent by the pool and the listener.', () =>
    sources.sqlStatements(),
  );
  mirrored(
    'websocket_connections',
    'Open graphql-ws sockets.',
    () => sources.webSocketCount(),
    'gauge',
  );
  mirrored(
    'websocket_operations',
    'Operations (mostly subscriptions) running on graphql-ws sockets.',
    () => sources.webSocketOperations(),
    'gauge',
  );
  mirrored(
    'stats_subscriptions',
    'Active statsChanged subscriptions (WebSocket and SSE).',
    () => {
      const subscribers = sources.stats()?.subscribers;
      if (subscribers === undefined) return undefined;
      // A group of identical WebSocket subscriptions is one subscriber of the publisher.
      const fanOut = sources.statsFanOut();
      return fanOut ? subscribers - fanOut.groups + fanOut.members : subscribers;
    },
    'gauge',
  );
  mirrored(
    'stats_fanout_groups',
    'Groups of identical statsChanged subscriptions over graphql-ws, each executed and serialized once per version.',
    () => sources.statsFanOut()?.groups,
    'gauge',
  );
  mirrored(
    'stats_fanout_executions_total',
    'statsChanged executions for groups: one per version per group, whatever its size.',
    () => sources.statsFanOut()?.executions,
  );
  mirrored(
    'stats_recomputes_total',
    'Dashboard aggregate recomputes.',
    () => sources.stats()?.recomputes,
  );
  mirrored(
    'stats_pushes_total',
    'New snapshots pushed to subscribers.',
    () => sources.stats()?.pushes,
  );
  mirrored(
    'stats_recompute_failures_total',
    'Recomputes that failed.',
    () => sources.stats()?.failures,
  );
  mirrored(
    'listener_reconnects_total',
    'Times the LISTEN connection was re-established.',
    () => sources.changes()?.reconnects,
  );
  mirrored(
    'db_pool_connections',
    'Connections in the pool.',
    () => sources.pool()?.totalCount,
    'gauge',
  );
  mirrored(
    'db_pool_idle_connections',
    'Idle connections in the pool.',
    () => sources.pool()?.idleCount,
    'gauge',
  );
  mirrored(
    'db_pool_waiting_requests',
    'Queries waiting for a connection.',
    () => sources.pool()?.waitingCount,
    'gauge',
  );
  mirrored(
    'process_resident_memory_bytes',
    'Resident set size.',
    () => process.memoryUsage().rss,
    'gauge',
  );

  for (const [name, help, field] of [
    ['cache_hits_total', 'Cache hits, by cache.', 'hits'],
    ['cache_misses_total', 'Cache misses, by cache.', 'misses'],
    ['cache_invalidations_total', 'Entries dropped by change events, by cache.', 'invalidations'],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ['cache'],
      registers: register,
      collect() {
        this.reset();
        for (const cache of allCaches(sources.caches)) {
          this.inc({ cache: cache.name }, cache.counters[field]);
        }
      },
    });
  }

  new Counter({
    name: 'websocket_closes_total',
    help: 'graphql-ws sockets closed, by the close code the server saw (4400 bad message, 4408 no init, 4429 too many, 1006 cut or vanished peer…).',
    labelNames: ['code'],
    registers: register,
    collect() {
      this.reset();
      for (const [code, count] of sources.webSocketCloses() ?? []) {
        this.inc({ code: String(code) }, count);
      }
    },
  });
  new Gauge({
    name: 'change_detection_source',
    help: 'Which change detection is active (1) by source: notify, poll or none; mode is the configured one.',
    labelNames: ['source', 'mode'],
    registers: register,
    collect() {
      this.reset();
      const status = sources.changes();
      if (!status) return;
      for (const source of ['notify', 'poll', 'none']) {
        this.set({ source, mode: status.mode }, status.activeSource === source ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'pg_notification_queue_usage',
    help: 'Fraction of the NOTIFY queue in use (pg_notification_queue_usage()).',
    registers: register,
    async collect() {
      const usage = await sources.notificationQueueUsage();
      this.reset();
      if (usage !== undefined) this.set(usage);
    },
  });

  const plugin: Plugin = {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const labels = {
        operation: operationLabel(operation?.name?.value),
        type: operation?.operation ?? 'unknown',
      };
      operations.inc(labels);
      const end = durations.startTimer(labels);
      return {
        onExecuteDone({ result }) {
          if (!isAsyncIterable(result)) end();
        },
      };
    },
    onSubscribe({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      operations.inc({
        operation: operationLabel(operation?.name?.value),
        type: 'subscription',
      });
    },
    onResultProcess({ result }) {
      if (isAsyncIterable(result)) return;
      for (const single of Array.isArray(result) ? result : [result]) {
        for (const error of single.errors ?? []) {
          const code = error.extensions?.code;
          errors.inc({ code: typeof code === 'string' ? code : 'UNKNOWN' });
        }
      }
    },
  };

  return {
    registry,
    plugin,
    observeChangeToPush: (milliseconds) => changeToPush.observe(milliseconds / 1000),
    observeFanOut: (members, seconds, cpuSeconds) => {
      fanOutMembers.observe(members);
      fanOutDuration.observe(seconds);
      fanOutCpu.inc(cpuSeconds);
    },
  };
}
