import pg from 'pg';
import { createPool, SqlStatementCounter } from '../../src/db/client.js';
import { TOP_SKILLS_COMPUTED } from '../../src/stats/computer.js';
import { readDashboardStats } from '../../src/stats/fold.js';
import { type AvailabilityFlipper, createAvailabilityFlipper } from '../lib/availability.js';
import {
  createLatencyHistogram,
  epochMs,
  type LatencyHistogram,
  recordMs,
  sleep,
  summarize,
} from '../lib/measure.js';
import { countApiStatements, readCounters, type ServerProcess } from '../lib/processes.js';
import { fmtCount, fmtMs, fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';
import { type SubscriberFleet, startSubscribers } from '../lib/subscribers.js';
import { runWriteLoad } from './write-throughput.js';

export interface LiveOptions {
  subscribers: number;
  manySubscribers: number;
  clientProcesses: number;
  /** Spaced writes whose push latency is measured. */
  latencyWrites: number;
  gapMs: number;
  idleSeconds: number;
  floodWriters: number;
  floodSeconds: number;
  pollingSeconds: number;
  pollingWritesPerSecond: number;
}

export interface LiveResults {
  metrics: MetricResult[];
  /** For the chart: push latencies at each subscriber count. */
  latency: { subscribers: number; histogram: LatencyHistogram }[];
}

function wsUrl(api: ServerProcess): string {
  return api.graphqlUrl.replace(/^http/, 'ws');
}

async function connectFleet(api: ServerProcess, total: number, processes: number) {
  const before = await readCounters(api);
  const fleet = await startSubscribers({ wsUrl: wsUrl(api), total, processes });
  const counts = await fleet.counts();
  if (counts.errors > 0) {
    await fleet.close();
    throw new Error(`${counts.errors} of ${total} subscriptions failed`);
  }
  // Let the connection burst's garbage be collected before reading memory.
  await sleep(3_000);
  const after = await readCounters(api);
  if (after.subscriptions - before.subscriptions < total) {
    await fleet.close();
    throw new Error(
      `the API counts ${after.subscriptions} subscriptions, expected ${total} more than ${before.subscriptions}`,
    );
  }
  return {
    fleet,
    bytesPerSubscription: (after.rssBytes - before.rssBytes) / total,
    rssBefore: before.rssBytes,
    rssAfter: after.rssBytes,
  };
}

/**
 * Commit → client push latency: each write commits, then every subscriber
 * must receive a newer version; the latency per subscriber is its arrival
 * time minus the moment COMMIT returned to the writer (wall clock, taken in
 * different processes of this machine). Writes are spaced so each one is a
 * fresh change, not part of a coalesced burst.
 */
async function measurePushLatency(
  api: ServerProcess,
  fleet: SubscriberFleet,
  flipper: AvailabilityFlipper,
  writes: number,
  gapMs: number,
): Promise<{ histogram: LatencyHistogram; missing: number; serverMeanMs: number }> {
  const histogram = createLatencyHistogram();
  let missing = 0;
  const before = (await readCounters(api)).changeToPushSeconds;
  for (let i = 0; i < writes; i += 1) {
    const before = fleet.newest;
    await flipper.flip();
    const committedAt = epochMs();
    const result = await fleet.awaitNewerThan(before, 15_000);
    missing += result.missing;
    for (const at of result.arrivals) recordMs(histogram, Math.max(0, at - committedAt));
    await sleep(gapMs);
  }
  const after = (await readCounters(api)).changeToPushSeconds;
  const pushes = after.count - before.count;
  const serverMeanMs = pushes > 0 ? ((after.sum - before.sum) * 1000) / pushes : Number.NaN;
  return { histogram, missing, serverMeanMs };
}

/** Statements one poll of a naive polling server costs: the same stats read this server runs per recompute. */
async function statementsPerPoll(databaseUrl: string): Promise<number> {
  const counter = new SqlStatementCounter();
  const pool = createPool({
    connectionString: databaseUrl,
    max: 1,
    counter,
    applicationName: 'bench-poll',
  });
  pool.on('error', () => {});
  try {
    await readDashboardStats(pool, { topSkills: TOP_SKILLS_COMPUTED });
    const before = counter.total;
    await readDashboardStats(pool, { topSkills: TOP_SKILLS_COMPUTED });
    return counter.total - before;
  } finally {
    await pool.end();
  }
}

/**
 * Everything measured with subscribers attached: memory per idle
 * subscription, SQL while idle, push latency, recomputes under a write
 * flood, and the polling comparison; then push latency and memory again
 * with many more subscribers.
 */
export async function measureLive(
  api: ServerProcess,
  databaseUrl: string,
  options: LiveOptions,
): Promise<LiveResults> {
  const metrics: MetricResult[] = [];
  const latency: LiveResults['latency'] = [];
  const writer = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'bench-push-writer',
  });
  writer.on('error', () => {});
  await writer.connect();
  const flipper = await createAvailabilityFlipper(writer);
  try {
    const n = options.subscribers;
    const first = await connectFleet(api, n, options.clientProcesses);
    try {
      // SQL while idle.
      const idleStatements = await countApiStatements(api, () => sleep(options.idleSeconds * 1000));
      const perMinute = (idleStatements * 60) / options.idleSeconds;
      metrics.push({
        id: 'idle_sql_per_minute',
        metric: `SQL statements per minute with ${fmtCount(n)} idle subscribers and no writes`,
        value: fmtCount(perMinute),
        target: '0',
        verdict: verdict(idleStatements === 0),
        conditions: `${idleStatements} statements in ${options.idleSeconds} s, API's own counter (/metrics), scrape cost subtracted`,
        data: { statements: idleStatements, seconds: options.idleSeconds },
      });

      // Push latency at n subscribers.
      const push = await measurePushLatency(
        api,
        first.fleet,
        flipper,
        options.latencyWrites,
        options.gapMs,
      );
      latency.push({ subscribers: n, histogram: push.histogram });
      const summary = summarize(push.histogram);
      metrics.push({
        id: 'push_latency',
        metric: `commit → client push latency p50 / p99, ${fmtCount(n)} subscribers`,
        value: `${fmtMs(summary.p50)} / ${fmtMs(summary.p99)}`,
        target: '≤ 20 ms / ≤ 50 ms',
        verdict: verdict(push.missing === 0 && summary.p50 <= 20 && summary.p99 <= 50),
        conditions: `${options.latencyWrites} single-row writes ${options.gapMs} ms apart, ${fmtCount(summary.count)} samples, subscribers over ${options.clientProcesses} client processes, graphql-ws; max ${fmtMs(summary.max)}; server side (notification → snapshot handed to subscribers) ${fmtMs(push.serverMeanMs)} mean${push.missing ? `; ${push.missing} pushes MISSING` : ''}`,
        data: { ...summary, missing: push.missing },
      });

      // Polling baseline vs this server under the same trickle of writes.
      const perPoll = await statementsPerPoll(databaseUrl);
      const pollingPerMinute = n * (60 / 5) * perPoll;
      const trickleGap = 1000 / options.pollingWritesPerSecond;
      let writes = 0;
      const served = await countApiStatements(api, async () => {
        const end = Date.now() + options.pollingSeconds * 1000;
        while (Date.now() < end) {
          await flipper.flip();
          writes += 1;
          await sleep(trickleGap);
        }
        // The last write's recompute belongs to this window.
        await sleep(500);
      });
      const servedPerMinute = (served * 60) / options.pollingSeconds;
      metrics.push({
        id: 'polling_ratio',
        metric: `polling baseline: DB statements/min of ${fmtCount(n)} clients polling stats every 5 s vs this server under the same writes`,
        value: `${fmtRatio(pollingPerMinute / Math.max(servedPerMinute, 1))}× fewer (${fmtCount(servedPerMinute)} vs ${fmtCount(pollingPerMinute)}/min)`,
        target: 'report the ratio',
        verdict: 'report',
        conditions: `${writes} writes over ${options.pollingSeconds} s (~${options.pollingWritesPerSecond}/s); this server measured by its counter; the baseline is ${fmtCount(n)} × 12 polls/min × ${perPoll} statements, the statements of one stats read counted on a pool (the incremental read: a polling server without it would scan the base tables each time)`,
        data: { perPoll, pollingPerMinute, servedPerMinute, writes },
      });

      // Recomputes under a write flood.
      const beforeFlood = await readCounters(api);
      const receivedBefore = (await first.fleet.counts()).received;
      const versionBefore = first.fleet.newest;
      const floodStarted = Date.now();
      const flood = await runWriteLoad(databaseUrl, {
        writers: options.floodWriters,
        seconds: options.floodSeconds,
        updateShare: 0.3,
        consultants: 1_000,
        warmupMs: 0,
      });
      const floodMs = Date.now() - floodStarted;
      const afterFlood = await readCounters(api);
      const converged = await first.fleet.awaitNewerThan(versionBefore, 10_000);
      const receivedAfter = (await first.fleet.counts()).received;
      const recomputesPerSecond =
        (afterFlood.recomputes - beforeFlood.recomputes) / (floodMs / 1000);
      const floodTps = flood.transactions / (floodMs / 1000);
      metrics.push({
        id: 'recomputes_under_flood',
        metric: `recomputes per second under a write flood, ${fmtCount(n)} subscribers`,
        value: `${recomputesPerSecond.toFixed(1)}/s at ${floodTps.toFixed(0)} tx/s`,
        target: '≤ 10/s under ≥ 2,000 tx/s',
        verdict: verdict(recomputesPerSecond <= 10 && floodTps >= 2_000 && converged.missing === 0),
        conditions: `${options.floodWriters} writers for ${options.floodSeconds} s (${fmtCount(flood.transactions)} transactions), STATS_COALESCE_MS=100; ${fmtCount((receivedAfter - receivedBefore) / n)} pushes per subscriber; every subscriber ${converged.missing === 0 ? 'received' : 'did NOT receive'} a post-flood version`,
        note:
          floodTps < 2_000
            ? 'the writers did not reach 2,000 tx/s on this machine while the API, PostgreSQL and the subscribers shared its cores'
            : undefined,
        data: {
          recomputesPerSecond,
          floodTps,
          transactions: flood.transactions,
          pushesPerSubscriber: (receivedAfter - receivedBefore) / n,
        },
      });
    } finally {
      await first.fleet.close();
    }

    // Many subscribers: memory per idle subscription and push latency.
    await sleep(1_000);
    const many = await connectFleet(api, options.manySubscribers, options.clientProcesses);
    try {
      const kb = many.bytesPerSubscription / 1024;
      metrics.push({
        id: 'memory_per_subscription',
        metric: 'memory per idle subscription (RSS delta / subscriptions)',
        value: `${kb.toFixed(1)} KB`,
        target: '≤ 12 KB',
        // A negative delta means the heap shrank meanwhile: the figure is noise, not a pass.
        verdict: verdict(kb > 0 && kb <= 12),
        note:
          kb <= 0
            ? 'RSS fell while the subscribers connected (garbage collected): too few subscriptions to measure'
            : undefined,
        conditions: `${fmtCount(options.manySubscribers)} graphql-ws sockets, one subscription each; API RSS ${(many.rssBefore / 2 ** 20).toFixed(0)} → ${(many.rssAfter / 2 ** 20).toFixed(0)} MB, read 3 s after the last connected`,
        data: {
          bytesPerSubscription: many.bytesPerSubscription,
          rssBefore: many.rssBefore,
          rssAfter: many.rssAfter,
        },
      });
      const push = await measurePushLatency(
        api,
        many.fleet,
        flipper,
        Math.max(3, Math.round(options.latencyWrites / 2)),
        options.gapMs,
      );
      latency.push({ subscribers: options.manySubscribers, histogram: push.histogram });
      const summary = summarize(push.histogram);
      metrics.push({
        id: 'push_latency_many',
        metric: `commit → client push latency p99, ${fmtCount(options.manySubscribers)} subscribers`,
        value: `${fmtMs(summary.p99)} (p50 ${fmtMs(summary.p50)})`,
        target: 'p99 ≤ 250 ms',
        verdict: verdict(push.missing === 0 && summary.p99 <= 250),
        conditions: `${Math.max(3, Math.round(options.latencyWrites / 2))} writes ${options.gapMs} ms apart, ${fmtCount(summary.count)} samples over ${options.clientProcesses} client processes; max ${fmtMs(summary.max)}; server side (notification → snapshot handed to subscribers) ${fmtMs(push.serverMeanMs)} mean${push.missing ? `; ${push.missing} pushes MISSING` : ''}`,
        data: { ...summary, missing: push.missing },
      });
    } finally {
      await many.fleet.close();
    }
  } finally {
    // Consultants left toggled go back to their seeded availability.
    await flipper.restore().catch(() => {});
    await writer.end();
  }
  return { metrics, latency };
}
