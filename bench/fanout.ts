/**
 * The statsChanged push path alone, at one subscriber count: commit → client
 * push latency and the API's CPU time per push. Quicker than the full bench
 * (`bench/run.ts`), for comparing two builds back to back on one machine.
 *
 *   npx tsx bench/fanout.ts [--subscribers 1000] [--writes 30] [--gap-ms 200]
 *                           [--processes 2] [--url postgres://admin@127.0.0.1:5432/postgres]
 *
 * The API runs as a child process (`src/main.ts`) on a throwaway database
 * holding the demo data set; its CPU time is read from /proc (Linux only:
 * elsewhere the CPU column stays empty).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createAvailabilityFlipper } from './lib/availability.js';
import {
  type BenchServer,
  createThrowawayDatabase,
  loadDemoData,
  openBenchServer,
  type ThrowawayDatabase,
} from './lib/database.js';
import { createLatencyHistogram, epochMs, recordMs, sleep, summarize } from './lib/measure.js';
import { readCounters, type ServerProcess, startApi } from './lib/processes.js';
import { startSubscribers } from './lib/subscribers.js';

/** User + system CPU seconds of a process so far, or undefined where /proc is missing. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start past the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) ".
    const ticks = Number(fields[11]) + Number(fields[12]);
    // Linux reports in USER_HZ, 100 on every mainstream kernel.
    return ticks / 100;
  } catch {
    return undefined;
  }
}

function options() {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      writes: { type: 'string', default: '30' },
      'gap-ms': { type: 'string', default: '200' },
      processes: { type: 'string', default: '2' },
      url: { type: 'string' },
    },
  });
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) {
      console.error(`--${name}: expected a positive integer, got "${text}"`);
      process.exit(2);
    }
    return value;
  };
  return {
    subscribers: positive('subscribers', values.subscribers),
    writes: positive('writes', values.writes),
    gapMs: positive('gap-ms', values['gap-ms']),
    processes: positive('processes', values.processes),
    url: values.url,
  };
}

async function main(): Promise<void> {
  const opts = options();
  let server: BenchServer | undefined;
  let database: ThrowawayDatabase | undefined;
  let api: ServerProcess | undefined;
  try {
    server = await openBenchServer(opts.url);
    database = await createThrowawayDatabase(server, 'fanout');
    await loadDemoData(database, { consultants: 1_000, missions: 10_000 });
    api = await startApi({ databaseUrl: database.url });
    const fleet = await startSubscribers({
      wsUrl: api.graphqlUrl.replace(/^http/, 'ws'),
      total: opts.subscribers,
      processes: opts.processes,
    });
    const writer = new pg.Client({ connectionString: database.url });
    writer.on('error', () => {});
    await writer.connect();
    const flipper = await createAvailabilityFlipper(writer);
    try {
      // Let the connection burst settle so its work is not billed to the pushes.
      await sleep(2_000);
      const histogram = createLatencyHistogram();
      let missing = 0;
      const countersBefore = await readCounters(api);
      const cpuBefore = await cpuSeconds(api.pid);
      for (let i = 0; i < opts.writes; i += 1) {
        const before = fleet.newest;
        await flipper.flip();
        const committedAt = epochMs();
        const result = await fleet.awaitNewerThan(before, 15_000);
        missing += result.missing;
        for (const at of result.arrivals) recordMs(histogram, Math.max(0, at - committedAt));
        await sleep(opts.gapMs);
      }
      const cpuAfter = await cpuSeconds(api.pid);
      const countersAfter = await readCounters(api);
      const pushes = countersAfter.pushes - countersBefore.pushes;
      const summary = summarize(histogram);
      const cpuPerPushMs =
        cpuBefore !== undefined && cpuAfter !== undefined && pushes > 0
          ? ((cpuAfter - cpuBefore) * 1000) / pushes
          : undefined;
      console.log(
        JSON.stringify(
          {
            subscribers: opts.subscribers,
            writes: opts.writes,
            pushes,
            samples: summary.count,
            missing,
            p50Ms: summary.p50,
            p95Ms: summary.p95,
            p99Ms: summary.p99,
            maxMs: summary.max,
            apiCpuMsPerPush: cpuPerPushMs === undefined ? null : Math.round(cpuPerPushMs * 10) / 10,
            note: 'API CPU covers the whole measured loop (recompute + push + idle) divided by pushes',
          },
          null,
          2,
        ),
      );
    } finally {
      await writer.end();
      await fleet.close();
    }
  } finally {
    await api?.stop();
    await database?.drop();
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
