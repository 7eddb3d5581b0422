/**
 * Measures the product against the targets of its benchmark table, in one run.
 *
 *   npm run bench                 full sizes (1M consultants / 10M missions), writes bench/RESULTS.md,
 *                                 bench/results.json and bench/*.png
 *   npm run bench:smoke           the same code at small sizes (< 2 min), writes bench/output/
 *   npx tsx bench/run.ts [--smoke] [--url postgres://admin@127.0.0.1:5432/postgres] [--out DIR]
 *
 * With `--url` it creates throwaway databases on that server (an admin URL:
 * it needs CREATE DATABASE) and drops them at the end; without it, it starts
 * an embedded PostgreSQL in a temporary folder. The API runs as a child
 * process (compiled, as `npm start` runs it), subscribers in 2–4 client processes, the
 * hello-world reference in another; every load is bounded in count and time
 * and only talks to 127.0.0.1.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { lineChartSvg, renderPng } from './lib/charts.js';
import {
  type BenchServer,
  createThrowawayDatabase,
  type DataSize,
  formatSize,
  loadDemoData,
  openBenchServer,
  type ThrowawayDatabase,
} from './lib/database.js';
import { type LatencyHistogram, percentileMs } from './lib/measure.js';
import { REPO_ROOT, type ServerProcess, startApi } from './lib/processes.js';
import { describeMachine, gitRevision, writeReport } from './lib/report.js';
import { fmtCount, type MetricResult } from './lib/report-types.js';
import { type HeavyQueryOptions, measureHeavyQueries } from './scenarios/heavy-queries.js';
import { measureHttpThroughput } from './scenarios/http-throughput.js';
import { type LiveOptions, measureLive } from './scenarios/live.js';
import { measureDeepCursor, measureSearch, measureStatementsPerPage } from './scenarios/pages.js';
import { type ComparisonOptions, measurePostGraphileComparison } from './scenarios/postgraphile.js';
import { measurePushScale, type PushScaleOptions } from './scenarios/push-scale.js';
import { measureStart, type StartOptions } from './scenarios/start.js';
import { measureStatsScale, type StatsCostPoint } from './scenarios/stats-scale.js';
import { measureWriteThroughput } from './scenarios/write-throughput.js';

interface Profile {
  /** Smallest first, the one everything at scale runs on last. */
  sizes: DataSize[];
  pageSamples: number;
  searchSamples: number;
  statsReads: number;
  writes: { writers: number[]; seconds: number; rounds: number };
  http: { seconds: number; rounds: number; connections: number };
  /** The nested page against PostGraphile 5 on the same database. */
  versus: ComparisonOptions;
  live: LiveOptions;
  pushScale: PushScaleOptions;
  start: StartOptions;
  heavy: HeavyQueryOptions;
}

const PROFILES: Record<'smoke' | 'full', Profile> = {
  smoke: {
    sizes: [
      { consultants: 1_000, missions: 10_000 },
      { consultants: 20_000, missions: 200_000 },
    ],
    pageSamples: 40,
    searchSamples: 40,
    statsReads: 40,
    writes: { writers: [1, 8], seconds: 1, rounds: 1 },
    http: { seconds: 2, rounds: 1, connections: 10 },
    versus: { seconds: 2, rounds: 1, connections: 10, cursors: 50 },
    live: {
      subscribers: 100,
      manySubscribers: 400,
      clientProcesses: 2,
      latencyWrites: 6,
      gapMs: 150,
      idleSeconds: 3,
      floodWriters: 8,
      floodSeconds: 2,
      pollingSeconds: 3,
      pollingWritesPerSecond: 5,
    },
    pushScale: {
      subscriberCounts: [100],
      workerSubscribers: [50],
      clientProcesses: 2,
      writes: 5,
      gapMs: 150,
    },
    start: { restarts: 3 },
    heavy: { concurrency: 20, samples: 30 },
  },
  full: {
    sizes: [
      { consultants: 1_000, missions: 10_000 },
      { consultants: 100_000, missions: 1_000_000 },
      { consultants: 1_000_000, missions: 10_000_000 },
    ],
    pageSamples: 300,
    searchSamples: 200,
    statsReads: 300,
    writes: { writers: [1, 8], seconds: 5, rounds: 2 },
    http: { seconds: 10, rounds: 2, connections: 10 },
    versus: { seconds: 10, rounds: 2, connections: 10, cursors: 200 },
    live: {
      subscribers: 1_000,
      manySubscribers: 10_000,
      clientProcesses: 4,
      latencyWrites: 30,
      gapMs: 200,
      idleSeconds: 60,
      floodWriters: 8,
      floodSeconds: 10,
      pollingSeconds: 30,
      pollingWritesPerSecond: 5,
    },
    pushScale: {
      subscriberCounts: [1_000, 10_000],
      workerSubscribers: [1_000, 10_000],
      clientProcesses: 4,
      writes: 20,
      gapMs: 200,
    },
    start: { restarts: 5 },
    heavy: { concurrency: 20, samples: 100 },
  },
};

function parseOptions() {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      url: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const mode: 'smoke' | 'full' = values.smoke ? 'smoke' : 'full';
  if (values.url) {
    const url = new URL(values.url);
    if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname)) {
      throw new Error('--url: the bench only talks to a server on 127.0.0.1');
    }
  }
  const out = values.out ?? path.join(REPO_ROOT, 'bench', mode === 'smoke' ? 'output' : '');
  return { mode, adminUrl: values.url, out: path.resolve(out) };
}

function log(message: string): void {
  const seconds = (performance.now() / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[bench ${seconds}s] ${message}\n`);
}

/** Runs a scenario; a crash becomes a failed row (and a non-zero exit) instead of losing the rest. */
async function attempt<T>(
  name: string,
  failures: string[],
  rows: MetricResult[],
  work: () => Promise<T>,
): Promise<T | undefined> {
  log(`${name}…`);
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push(`${name}: ${message}`);
    log(`${name} FAILED: ${message}`);
    rows.push({
      id: `failed_${name.replace(/\W+/g, '_')}`,
      metric: name,
      value: 'not measured (the scenario failed)',
      target: '—',
      verdict: 'miss',
      conditions: message,
      data: {},
    });
    return undefined;
  }
}

function latencyChart(
  latency: { subscribers: number; histogram: LatencyHistogram }[],
  mode: string,
) {
  // HdrHistogram's percentile plot: x is 1 / (1 − p), so the tail gets room.
  const percentiles = Array.from({ length: 31 }, (_, k) => 100 * (1 - 10 ** (-k / 10)));
  return lineChartSvg({
    title: 'statsChanged: commit → client push latency',
    xLabel: 'percentile',
    yLabel: 'latency (ms)',
    xLog: true,
    xTicks: [
      { value: 1, label: '0%' },
      { value: 10, label: '90%' },
      { value: 100, label: '99%' },
      { value: 1000, label: '99.9%' },
    ],
    series: latency.map(({ subscribers, histogram }) => ({
      name: `${fmtCount(subscribers)} subscribers`,
      points: percentiles.map(
        (p) => [1 / (1 - p / 100), percentileMs(histogram, p)] as [number, number],
      ),
    })),
    footnote: `${mode} run; graphql-ws clients in separate processes on the same machine`,
  });
}

function costChart(
  points: StatsCostPoint[],
  loads: { size: DataSize; seconds: number }[],
  mode: string,
) {
  return lineChartSvg({
    title: 'Cost vs data size',
    xLabel: 'missions (consultants = missions / 10)',
    yLabel: 'milliseconds (log)',
    xLog: true,
    yLog: true,
    series: [
      {
        name: 'stats recompute, incremental (median)',
        points: points.map((p) => [p.size.missions, p.incremental.p50]),
      },
      {
        name: 'stats recompute from base tables',
        points: points.map((p) => [p.size.missions, p.fullRecomputeMs]),
      },
      {
        name: 'bulk load (COPY), whole data set',
        points: loads.map((l) => [l.size.missions, l.seconds * 1000]),
      },
    ],
    footnote: `${mode} run`,
  });
}

async function main(): Promise<void> {
  const options = parseOptions();
  const profile = PROFILES[options.mode];
  const started = performance.now();
  const date = new Date().toISOString();
  const rows: MetricResult[] = [];
  const failures: string[] = [];
  const databases: ThrowawayDatabase[] = [];
  let server: BenchServer | undefined;
  let api: ServerProcess | undefined;
  let costPoints: StatsCostPoint[] = [];
  let latency: { subscribers: number; histogram: LatencyHistogram }[] = [];
  const loads: { size: DataSize; seconds: number; rowsPerSecond: number }[] = [];

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: cleaning up (Ctrl-C again to abandon)');
    void cleanup().finally(() => process.exit(130));
  };
  const cleanup = async () => {
    await api?.stop().catch(() => {});
    for (const database of databases) await database.drop().catch(() => {});
    await server?.stop().catch(() => {});
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    log(`${options.mode} run, results to ${options.out}`);
    server = await openBenchServer(options.adminUrl);
    log(server.description);

    // Load every size, largest first so its figure is taken on a fresh server.
    const sized: { size: DataSize; database: ThrowawayDatabase }[] = [];
    for (const size of [...profile.sizes].reverse()) {
      const database = await createThrowawayDatabase(server, `c${size.consultants}`);
      databases.push(database);
      log(`loading ${formatSize(size)}`);
      const summary = await loadDemoData(database, size, (message) => {
        // Per-table totals and the rebuild time only, not every chunk.
        if (/ in \d/.test(message)) log(`  ${message}`);
      });
      const total = Object.values(summary.counts).reduce((a, b) => a + b, 0);
      const seconds = summary.elapsedMs / 1000;
      loads.push({ size, seconds, rowsPerSecond: total / seconds });
      log(`loaded ${fmtCount(total)} rows in ${seconds.toFixed(1)} s`);
      sized.unshift({ size, database });
    }
    const largest = sized.at(-1) as { size: DataSize; database: ThrowawayDatabase };
    const largestLoad = loads[0] as (typeof loads)[number];
    rows.push({
      id: 'bulk_load',
      metric: `bulk load of ${formatSize(largest.size)}`,
      value: `${largestLoad.seconds.toFixed(1)} s (${fmtCount(largestLoad.rowsPerSecond)} rows/s)`,
      target: 'completes; COPY speed, not row by row',
      verdict: 'pass',
      conditions: `src/db/seed COPY seeder with the demo proportions (5.5 skills and 2 documents per consultant), secondary indexes and foreign keys rebuilt after the load, ANALYZE included`,
      data: { loads },
    });

    const stats = await attempt('stats scale', failures, rows, () =>
      measureStatsScale(
        sized.map(({ size, database }) => ({ size, url: database.url })),
        profile.statsReads,
      ),
    );
    if (stats) {
      rows.push(stats.metric);
      costPoints = stats.points;
    }

    log(`starting the API on ${formatSize(largest.size)}`);
    api = await startApi({ databaseUrl: largest.database.url });
    const running = api;
    const pageRow = await attempt('statements per page', failures, rows, () =>
      measureStatementsPerPage(running, largest.size.consultants),
    );
    if (pageRow) rows.push(pageRow);
    const deep = await attempt('deep cursor', failures, rows, () =>
      measureDeepCursor(
        running,
        largest.database.url,
        largest.size.consultants,
        profile.pageSamples,
      ),
    );
    if (deep) rows.push(deep.metric);
    const search = await attempt('name search', failures, rows, () =>
      measureSearch(running, largest.database.url, largest.size.consultants, profile.searchSamples),
    );
    if (search) rows.push(search);
    const http = await attempt('HTTP throughput', failures, rows, () =>
      measureHttpThroughput(running, profile.http),
    );
    if (http) rows.push(...http);
    const versus = await attempt('PostGraphile comparison', failures, rows, () =>
      measurePostGraphileComparison(
        running,
        largest.database.url,
        largest.size.consultants,
        profile.versus,
      ),
    );
    if (versus) rows.push(...versus);
    const live = await attempt('subscriptions', failures, rows, () =>
      measureLive(running, largest.database.url, profile.live),
    );
    if (live) {
      rows.push(...live.metrics);
      latency = live.latency;
    }
    await api.stop();
    api = undefined;

    const pushScale = await attempt('push scale', failures, rows, () =>
      measurePushScale(largest.database.url, profile.pushScale, (message) => log(message)),
    );
    if (pushScale) rows.push(...pushScale);
    // API processes of its own: its peak RSS is this scenario's alone.
    const heavy = await attempt('heavy queries', failures, rows, () =>
      measureHeavyQueries(largest.database.url, profile.heavy),
    );
    if (heavy) rows.push(heavy);

    const runningServer = server;
    const writes = await attempt('write throughput', failures, rows, () =>
      measureWriteThroughput(runningServer, profile.writes),
    );
    if (writes) rows.push(writes);

    const start = await attempt('start', failures, rows, () => measureStart(profile.start));
    if (start) rows.push(...start);
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const order = [
    'bulk_load',
    'statements_per_page',
    'deep_cursor_p99_ratio',
    'stats_scale',
    'write_tps_ratio',
    'recomputes_under_flood',
    'idle_sql_per_minute',
    'push_latency',
    'push_latency_many',
    'memory_per_subscription',
    'stats_throughput_ratio',
    'page_throughput_ratio',
    'heavy_queries',
    'postgraphile_first',
    'postgraphile_deep',
    'postgraphile_varying',
    'postgraphile_count',
    'search_p95',
    'polling_ratio',
    'first_start',
    'warm_restart',
  ];
  const rank = (row: MetricResult) =>
    order.includes(row.id) ? order.indexOf(row.id) : order.length;
  rows.sort((a, b) => rank(a) - rank(b));

  const charts = [];
  if (latency.length > 0) {
    const svg = latencyChart(latency, options.mode);
    charts.push({
      file: 'push-latency.png',
      title: 'commit → push latency distribution',
      svg,
      png: renderPng(svg),
    });
  }
  if (costPoints.length > 0) {
    const svg = costChart(costPoints, loads, options.mode);
    charts.push({ file: 'cost-vs-size.png', title: 'cost vs data size', svg, png: renderPng(svg) });
  }
  await writeReport(
    options.out,
    {
      mode: options.mode,
      date,
      revision: gitRevision(),
      machine: describeMachine(),
      database: server?.description ?? 'unknown',
      durationSeconds: (performance.now() - started) / 1000,
    },
    rows,
    charts,
    {
      latencyPercentiles: latency.map(({ subscribers, histogram }) => ({
        subscribers,
        p50: percentileMs(histogram, 50),
        p90: percentileMs(histogram, 90),
        p99: percentileMs(histogram, 99),
        p999: percentileMs(histogram, 99.9),
        max: histogram.maxValue / 1000,
        count: histogram.totalCount,
      })),
      costPoints,
      failures,
    },
  );
  for (const row of rows)
    log(`${row.verdict.padEnd(6)} ${row.metric}: ${row.value} (target ${row.target})`);
  log(
    `done in ${((performance.now() - started) / 1000).toFixed(0)} s; ${path.join(options.out, 'RESULTS.md')}`,
  );
  if (failures.length > 0) {
    log(`${failures.length} scenario(s) failed:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

await main();
