import type pg from 'pg';
import { createRefusalAudit, type RefusalAudit } from './audit/refusal-audit.js';
import { createAuthenticator } from './auth/authenticator.js';
import { resolveJwtSecret } from './auth/dev-secret.js';
import { createMutationRateLimiter } from './auth/mutation-rate-limit.js';
import { createWebSocketOnConnect } from './auth/ws-auth.js';
import {
  allCaches,
  type Caches,
  clearCaches,
  createCaches,
  invalidateTables,
} from './cache/index.js';
import {
  type ChangeDetector,
  type ChangeEvent,
  createChangeDetector,
} from './changes/change-detector.js';
import { type Config, redactUrl } from './config.js';
import type { Services } from './context.js';
import { createDatabase, createPool, SqlStatementCounter } from './db/client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './db/embedded.js';
import { runMigrations } from './db/migrate.js';
import { isDatabaseReachable, readNotificationQueueUsage } from './db/queries/health.js';
import { DEFAULT_SEED_OPTIONS, isDatabaseEmpty, seedDemoData } from './db/seed/index.js';
import type { Logger } from './logger.js';
import { createReportService, type ReportService } from './reports/report-service.js';
import { useReportCsv } from './reports/use-report-csv.js';
import { buildSchema } from './schema/index.js';
import { createHttpServer, type HttpServer } from './server/http.js';
import { createMetrics, type Metrics } from './server/metrics.js';
import { useDashboard } from './server/plugins/use-dashboard.js';
import {
  type Readiness,
  useOperationsEndpoints,
} from './server/plugins/use-operations-endpoints.js';
import { useRequestLog } from './server/plugins/use-request-log.js';
import { attachWebSocketServer, type WebSocketEndpoint } from './server/ws.js';
import { createYogaServer, type Yoga } from './server/yoga.js';
import { createStatsComputer } from './stats/computer.js';
import { createStatsPublisher, type StatsPublisher } from './stats/publisher.js';
import type { DashboardStatsSnapshot } from './stats/snapshot.js';
import { createTaskRunner, type TaskRunner } from './tasks/task-runner.js';

export interface AppDependencies {
  log: Logger;
  /** Shared with tests so they can count the statements a request issues. */
  sqlCounter?: SqlStatementCounter;
  /** Names this instance among several sharing a port (`WEB_CONCURRENCY`); sent on WebSocket upgrades. */
  instance?: string;
}

export interface RunningApp {
  /** Base URL of the HTTP server, e.g. `http://127.0.0.1:4000`. */
  url: string;
  graphqlUrl: string;
  databaseUrl: string;
}

export interface App {
  start(): Promise<RunningApp>;
  /** Idempotent: stops the HTTP server, the pool and the embedded database, in that order. */
  stop(): Promise<void>;
  readonly sqlCounter: SqlStatementCounter;
  /** Available once started. */
  readonly yoga: Yoga | undefined;
  readonly pool: pg.Pool | undefined;
  readonly caches: Caches;
  readonly stats: StatsPublisher<DashboardStatsSnapshot> | undefined;
  readonly changes: ChangeDetector | undefined;
  readonly webSockets: WebSocketEndpoint | undefined;
  readonly metrics: Metrics;
  /** What `/ready` answers. */
  readiness(): Promise<Readiness>;
}

export const EMBEDDED_DATABASE_NAME = 'consultator';

/**
 * The composition root: builds every resource from a config object and owns
 * their lifecycle. Nothing is opened before `start()`.
 */
export function buildApp(config: Config, deps: AppDependencies): App {
  const { log } = deps;
  const sqlCounter = deps.sqlCounter ?? new SqlStatementCounter();
  let embedded: EmbeddedPostgres | undefined;
  let pool: pg.Pool | undefined;
  let http: HttpServer | undefined;
  let yoga: Yoga | undefined;
  let webSockets: WebSocketEndpoint | undefined;
  let changes: ChangeDetector | undefined;
  let stats: StatsPublisher<DashboardStatsSnapshot> | undefined;
  let stopping: Promise<void> | undefined;
  let tasks: TaskRunner | undefined;
  let reports: ReportService | undefined;
  let refusals: RefusalAudit | undefined;
  const caches = createCaches(config.cache);
  const metrics = createMetrics(
    {
      caches,
      sqlStatements: () => sqlCounter.total,
      webSocketCount: () => webSockets?.sockets ?? 0,
      webSocketOperations: () => webSockets?.operations ?? 0,
      webSocketCloses: () => webSockets?.closesByCode,
      stats: () => stats?.metrics,
      statsFanOut: () => webSockets?.sharedStats,
      changes: () => changes?.status,
      pool: () => pool,
      notificationQueueUsage: async () => (pool ? readNotificationQueueUsage(pool) : undefined),
    },
    config.metrics,
  );

  async function readiness(): Promise<Readiness> {
    const changeDetection = changes?.status.activeSource ?? 'none';
    const database = pool !== undefined && !stopping && (await isDatabaseReachable(pool, 2_000));
    return { ready: database && changeDetection !== 'none', database, changeDetection };
  }

  async function resolveDatabaseUrl(): Promise<string> {
    if (config.database.url) return config.database.url;
    const started = Date.now();
    embedded = await startEmbeddedPostgres({
      ...config.database.embedded,
      database: EMBEDDED_DATABASE_NAME,
      log: (message) => log.debug({ component: 'embedded-postgres' }, message),
      // Its log is relayed into ours: no DETAIL lines, which repeat values
      // ("Key (email)=(…) already exists"); statement texts carry no parameters.
      settings: { log_error_verbosity: 'terse' },
    });
    log.info(
      {
        dataDir: embedded.dataDir,
        port: embedded.port,
        // For psql or the write simulator: the password is `postgres`, loopback only.
        url: redactUrl(embedded.url),
        fresh: embedded.initialised,
        ms: Date.now() - started,
      },
      'embedded PostgreSQL started',
    );
    return embedded.url;
  }

  async function seedIfEmpty(connectionPool: pg.Pool): Promise<void> {
    if (!config.database.seedOnFirstStart) return;
    if (!(await isDatabaseEmpty(connectionPool))) return;
    log.info('empty database: loading the demo data set');
    const summary = await seedDemoData(connectionPool, DEFAULT_SEED_OPTIONS);
    log.info({ ...summary }, 'demo data loaded');
  }

  function onChange(event: ChangeEvent): void {
    if (event.reason === 'resync') {
      // Notifications may have been missed: nothing cached can be trusted.
      clearCaches(caches);
      stats?.resync();
      return;
    }
    reports?.tablesChanged(event.tables);
    if (event.folded) {
      // A fold (here or on another instance) published the snapshot at this
      // version: the stats publisher reads it; the other caches drop what
      // those tables fed (silent writers announced nothing themselves).
      for (const cache of allCaches(caches)) {
        if (cache !== caches.stats) cache.invalidate(event.tables);
      }
      stats?.published(event.folded.version, { windowOpen: event.folded.windowOpen });
      return;
    }
    invalidateTables(caches, event.tables);
    stats?.tablesChanged(event.tables);
  }

  return {
    sqlCounter,
    caches,
    metrics,
    readiness,
    get stats() {
      return stats;
    },
    get changes() {
      return changes;
    },
    get webSockets() {
      return webSockets;
    },
    get yoga() {
      return yoga;
    },
    get pool() {
      return pool;
    },
    async start() {
      try {
        const databaseUrl = await resolveDatabaseUrl();
        await runMigrations(databaseUrl);
        pool = createPool({
          connectionString: databaseUrl,
          max: config.database.poolMax,
          connectTimeoutMs: config.database.connectTimeoutMs,
          statementTimeoutMs: config.database.statementTimeoutMs,
          idleInTransactionTimeoutMs: config.database.idleInTransactionTimeoutMs,
          // Request statements are short: a parallel plan's worker start-up is what would make them slow.
          parallelWorkers: false,
          slowQueryMs: config.database.slowQueryMs,
          onSlowQuery: (slow) => log.warn(slow, 'slow SQL statement'),
          onConnectionError: (error) => log.warn({ err: error }, 'database connection lost'),
          counter: sqlCounter,
        });
        const db = createDatabase(pool);
        await seedIfEmpty(pool);
        const computer = createStatsComputer({
          pool,
          triggersInstalled: () => changes?.status.triggersInstalled ?? null,
          coalesceMs: config.stats.coalesceMs,
        });
        stats = createStatsPublisher<DashboardStatsSnapshot>({
          compute: computer.compute,
          readPublished: computer.readPublished,
          cache: caches.stats,
          coalesceMs: config.stats.coalesceMs,
          log,
          onChangePushed: metrics.observeChangeToPush,
        });
        changes = createChangeDetector({
          mode: config.changes.mode,
          connectionString: databaseUrl,
          pool,
          counter: sqlCounter,
          log,
          pollIntervalMs: config.changes.pollIntervalMs,
          maxBackoffMs: config.changes.maxBackoffMs,
          keepAliveMs: config.changes.heartbeatMs,
          onChange,
        });
        await changes.start();
        tasks = createTaskRunner({ pool, db, log, retentionMs: config.tasks.retentionMs });
        const recovered = await tasks.recover();
        if (recovered.deleted > 0) log.info({ deleted: recovered.deleted }, 'old tasks deleted');
        reports = createReportService({ db, ttlMs: config.reports.cacheTtlMs });
        await reports.deleteExpired();
        const authenticator = createAuthenticator({
          jwtSecret: await resolveJwtSecret(config),
          jwksUrl: config.auth.jwksUrl,
          apiKeys: config.auth.apiKeys,
          jwtMaxLifetimeSeconds: config.auth.jwtMaxLifetimeSeconds,
        });
        refusals = createRefusalAudit({
          db,
          log,
          windowSeconds: config.auth.mutationRateWindowSeconds,
        });
        const services: Services = {
          db,
          log,
          caches,
          stats,
          authenticator,
          tasks,
          reports,
          allowAnonymousReads: config.auth.allowAnonymousReads,
          mutationRate: createMutationRateLimiter({
            limit: config.auth.mutationRateLimit,
            limitPerAddress: config.auth.mutationRateLimitPerAddress,
            windowSeconds: config.auth.mutationRateWindowSeconds,
          }),
          refusals,
        };
        yoga = createYogaServer({
          schema: buildSchema(),
          services,
          config,
          log,
          plugins: [
            useRequestLog(log),
            metrics.plugin,
            useOperationsEndpoints({
              registry: metrics.registry,
              readiness,
              metricsAccess: config.metrics,
            }),
            useReportCsv(services),
            ...(config.http.dashboard ? [useDashboard({ log })] : []),
          ],
        });
        http = createHttpServer(yoga);
        webSockets = attachWebSocketServer(http.server, yoga, {
          ...config.webSocket,
          log,
          onFanOut: metrics.observeFanOut,
          instance: deps.instance,
          onConnect: createWebSocketOnConnect({
            authenticator,
            allowAnonymousReads: config.auth.allowAnonymousReads,
          }),
        });
        const { port } = await http.listen(config.http.port, config.http.host);
        const host =
          config.http.host === '0.0.0.0' || config.http.host === '::'
            ? 'localhost'
            : config.http.host;
        const url = `http://${host}:${port}`;
        return { url, graphqlUrl: `${url}/graphql`, databaseUrl };
      } catch (error) {
        await this.stop();
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all([
          // A last fold if this instance promised writers one, while the pool is open.
          stats?.stop(),
          webSockets?.close(config.shutdownGraceMs),
          http?.close(config.shutdownGraceMs),
          // Interrupts a running task (marked failed) while the pool is still open.
          tasks?.stop(),
        ]);
        await changes?.stop();
        // Counts of refused attempts still being written go in before the pool closes.
        await refusals?.settled();
        await pool?.end();
        await embedded?.stop();
      })();
      return stopping;
    },
  };
}
