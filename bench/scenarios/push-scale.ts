import pg from 'pg';
import { createAvailabilityFlipper } from '../lib/availability.js';
import {
  createLatencyHistogram,
  epochMs,
  type LatencyHistogram,
  recordMs,
  sleep,
  summarize,
} from '../lib/measure.js';
import {
  type ApiCounters,
  readCounters,
  type ServerProcess,
  startApi,
  startWsBroadcast,
} from '../lib/processes.js';
import { fmtCount, fmtMs, fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';
import {
  DASHBOARD_SUBSCRIPTION,
  type SubscriberFleet,
  startSubscribers,
} from '../lib/subscribers.js';

export interface PushScaleOptions {
  /** Subscriber counts measured against this server and the plain ws broadcast, side by side. */
  subscriberCounts: number[];
  /** Subscriber counts for the 1 vs 2 worker rows. */
  workerSubscribers: number[];
  clientProcesses: number;
  /** Measured writes (or broadcasts) per point, and the gap between them. */
  writes: number;
  gapMs: number;
}

/** Every client uses this operation id, so the reference server can send all of them one buffer. */
const OPERATION_ID = '1';

interface PushRun {
  histogram: LatencyHistogram;
  missing: number;
}

/**
 * `trigger` causes one push; latency per subscriber is arrival minus the
 * moment `trigger` returned, or minus the epoch ms it returns (when the
 * sender says when it started).
 */
async function measurePushes(
  fleet: SubscriberFleet,
  writes: number,
  gapMs: number,
  trigger: (index: number) => Promise<number | undefined>,
): Promise<PushRun> {
  const histogram = createLatencyHistogram();
  let missing = 0;
  for (let i = 0; i < writes; i += 1) {
    const before = fleet.newest;
    const startedAt = await trigger(i);
    const triggeredAt = startedAt ?? epochMs();
    const result = await fleet.awaitNewerThan(before, 15_000);
    missing += result.missing;
    for (const at of result.arrivals) recordMs(histogram, Math.max(0, at - triggeredAt));
    await sleep(gapMs);
  }
  return { histogram, missing };
}

async function fleetFor(server: ServerProcess, total: number, processes: number) {
  const fleet = await startSubscribers({
    wsUrl: server.graphqlUrl.replace(/^http/, 'ws'),
    total,
    processes,
    operationId: OPERATION_ID,
  });
  const counts = await fleet.counts();
  if (counts.errors > 0) {
    await fleet.close();
    throw new Error(`${counts.errors} of ${total} subscriptions failed`);
  }
  return fleet;
}

/** Bytes of the dashboard push as the API sends it, to size the reference server's message. */
async function dashboardPayloadBytes(api: ServerProcess): Promise<number> {
  const query = DASHBOARD_SUBSCRIPTION.replace('subscription Dashboard', 'query Dashboard').replace(
    'statsChanged',
    'statsChanged: stats',
  );
  const response = await fetch(api.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.text()).length;
}

const ratioOf = (ours: number, theirs: number) => (theirs > 0 ? ours / theirs : Number.NaN);

/**
 * The push path at scale: commit → push with one subscriber; at each
 * subscriber count, this server against a plain `ws` broadcast of one
 * pre-built buffer to the same number of sockets (same client processes, one
 * after the other in one run), with the fan-out's CPU per subscriber and RSS
 * per idle subscription; then commit → push with 1 and 2 worker processes.
 */
export async function measurePushScale(
  databaseUrl: string,
  options: PushScaleOptions,
  log: (message: string) => void = () => {},
): Promise<MetricResult[]> {
  const metrics: MetricResult[] = [];
  const writer = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-push' });
  writer.on('error', () => {});
  await writer.connect();
  // AVAILABLE <-> UNAVAILABLE only, put back at the end (see the helper).
  const flipper = await createAvailabilityFlipper(writer);
  const flipNext = async () => {
    await flipper.flip();
    return undefined;
  };
  let api: ServerProcess | undefined;
  let reference: ServerProcess | undefined;
  try {
    api = await startApi({ databaseUrl });
    const payloadBytes = await dashboardPayloadBytes(api);

    log('push latency with one subscriber');
    {
      const fleet = await fleetFor(api, 1, 1);
      try {
        await sleep(500);
        const run = await measurePushes(fleet, options.writes, options.gapMs, flipNext);
        const summary = summarize(run.histogram);
        metrics.push({
          id: 'push_latency_one',
          metric: 'commit → client push latency p50 / p99, one subscriber',
          value: `${fmtMs(summary.p50)} / ${fmtMs(summary.p99)}`,
          target: 'p50 ≤ 5 ms',
          verdict: verdict(run.missing === 0 && summary.p50 <= 5),
          conditions: `${options.writes} single-row writes ${options.gapMs} ms apart (AVAILABLE ↔ UNAVAILABLE, put back afterwards), graphql-ws client in its own process`,
          data: { ...summary, missing: run.missing },
        });
      } finally {
        await fleet.close();
      }
    }

    for (const n of options.subscriberCounts) {
      log(`push latency at ${fmtCount(n)} subscribers: this server`);
      const before = await readCounters(api);
      const fleet = await fleetFor(api, n, options.clientProcesses);
      let ours: PushRun;
      let idle: ApiCounters;
      let pushed: ApiCounters;
      try {
        // Let the connection burst's garbage be collected before reading memory.
        await sleep(3_000);
        idle = await readCounters(api);
        ours = await measurePushes(fleet, options.writes, options.gapMs, flipNext);
        pushed = await readCounters(api);
      } finally {
        await fleet.close();
      }
      const kb = (idle.rssBytes - before.rssBytes) / n / 1024;
      const fanOutMembers = pushed.fanOut.members - idle.fanOut.members;
      const perMember = (seconds: number) =>
        fanOutMembers > 0 ? (seconds * 1e6) / fanOutMembers : Number.NaN;
      const microsPerMember = perMember(pushed.fanOut.cpuSeconds - idle.fanOut.cpuSeconds);
      const wallMicrosPerMember = perMember(pushed.fanOut.seconds - idle.fanOut.seconds);

      log(`push latency at ${fmtCount(n)} subscribers: plain ws broadcast`);
      reference = await startWsBroadcast(payloadBytes);
      const referenceFleet = await fleetFor(reference, n, options.clientProcesses);
      let theirs: PushRun;
      try {
        await sleep(3_000);
        const server = reference;
        let version = Number(referenceFleet.newest);
        theirs = await measurePushes(referenceFleet, options.writes, options.gapMs, async () => {
          version += 1;
          const response = await fetch(`${server.url}/broadcast?version=${version}`, {
            method: 'POST',
          });
          // When the broadcast loop started, by the server's clock (this machine's).
          return Number(await response.text());
        });
      } finally {
        await referenceFleet.close();
        await reference.stop();
        reference = undefined;
      }

      const a = summarize(ours.histogram);
      const b = summarize(theirs.histogram);
      const p50Ratio = ratioOf(a.p50, b.p50);
      const p99Ratio = ratioOf(a.p99, b.p99);
      const target = n >= 10_000 ? 'p99 ≤ 250 ms' : n >= 1_000 ? '≤ 20 ms / ≤ 50 ms' : 'report';
      const pass = n >= 10_000 ? a.p99 <= 250 : n >= 1_000 ? a.p50 <= 20 && a.p99 <= 50 : undefined;
      metrics.push({
        id: `push_latency_${n}`,
        metric: `commit → client push latency p50 / p99, ${fmtCount(n)} subscribers`,
        value: `${fmtMs(a.p50)} / ${fmtMs(a.p99)}`,
        target,
        verdict: pass === undefined ? 'report' : verdict(ours.missing === 0 && pass),
        conditions: `${options.writes} writes ${options.gapMs} ms apart, ${fmtCount(a.count)} samples over ${options.clientProcesses} client processes; max ${fmtMs(a.max)}${ours.missing ? `; ${ours.missing} pushes MISSING` : ''}`,
        data: { ...a, missing: ours.missing },
      });
      metrics.push({
        id: `push_vs_ws_broadcast_${n}`,
        metric: `push latency against a plain ws broadcast of one pre-built buffer, ${fmtCount(n)} sockets (ours / theirs)`,
        value: `p50 ${fmtRatio(p50Ratio)}×, p99 ${fmtRatio(p99Ratio)}× (theirs ${fmtMs(b.p50)} / ${fmtMs(b.p99)})`,
        target: '≤ 1.2',
        verdict: verdict(p99Ratio <= 1.2),
        conditions: `same client processes and count, one after the other in one run; ours is commit → arrival (NOTIFY, recompute, execute, serialize, fan-out), theirs start of the broadcast loop → arrival with a ${fmtCount(payloadBytes)}-byte message`,
        data: { ours: a, theirs: b, p50Ratio, p99Ratio },
      });
      metrics.push({
        id: `fanout_cpu_per_subscriber_${n}`,
        metric: `server fan-out CPU per subscriber per push, ${fmtCount(n)} subscribers`,
        value: `${microsPerMember.toFixed(2)} µs`,
        target: '≤ 10 µs',
        verdict: verdict(microsPerMember <= 10),
        conditions: `stats_fanout_cpu_seconds_total / stats_fanout_members_sum on /metrics over the measured pushes (process CPU of the synchronous write loop: frame header, id, shared bytes, corked per socket, one writev each); wall time ${wallMicrosPerMember.toFixed(2)} µs per subscriber`,
        data: { microsPerMember, wallMicrosPerMember, members: fanOutMembers },
      });
      metrics.push({
        id: `memory_per_subscription_${n}`,
        metric: `memory per idle subscription (RSS delta / subscriptions), ${fmtCount(n)} subscribers`,
        value: `${kb.toFixed(1)} KB`,
        target: '≤ 12 KB',
        verdict: verdict(kb > 0 && kb <= 12),
        conditions: `graphql-ws sockets, one subscription each; API RSS ${(before.rssBytes / 2 ** 20).toFixed(0)} → ${(idle.rssBytes / 2 ** 20).toFixed(0)} MB, read 3 s after the last connected`,
        data: { kb },
      });
      log(`  ours ${fmtMs(a.p50)} / ${fmtMs(a.p99)}, theirs ${fmtMs(b.p50)} / ${fmtMs(b.p99)}`);
    }
    await api.stop();
    api = undefined;

    for (const n of options.workerSubscribers) {
      let single: number | undefined;
      for (const workers of [1, 2]) {
        log(`push latency at ${fmtCount(n)} subscribers, ${workers} worker(s)`);
        api = await startApi({ databaseUrl, workers });
        // /ready answered from one worker; let the others finish starting.
        await sleep(3_000);
        const fleet = await fleetFor(api, n, options.clientProcesses);
        try {
          await sleep(2_000);
          const run = await measurePushes(fleet, options.writes, options.gapMs, flipNext);
          const summary = summarize(run.histogram);
          if (workers === 1) single = summary.p50;
          metrics.push({
            id: `push_latency_workers_${workers}_${n}`,
            metric: `commit → client push latency p50 / p99, ${fmtCount(n)} subscribers, WEB_CONCURRENCY=${workers}`,
            value: `${fmtMs(summary.p50)} / ${fmtMs(summary.p99)}`,
            target: workers === 1 ? 'report' : 'p50 within the 1-worker figure + 5 ms',
            verdict:
              workers === 1 || single === undefined
                ? 'report'
                : verdict(run.missing === 0 && summary.p50 <= single + 5),
            conditions: `${options.writes} writes ${options.gapMs} ms apart; each worker listens and recomputes on its own; ${fmtCount(summary.count)} samples${run.missing ? `; ${run.missing} pushes MISSING` : ''}`,
            data: { ...summary, missing: run.missing },
          });
          log(`  ${fmtMs(summary.p50)} / ${fmtMs(summary.p99)}`);
        } finally {
          await fleet.close();
          await api.stop();
          api = undefined;
        }
      }
    }
  } finally {
    await api?.stop();
    await reference?.stop();
    await flipper.restore();
    await writer.end();
  }
  return metrics;
}
