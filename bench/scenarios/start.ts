import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeCheckout } from '../../test/support/checkout.js';
import { type MetricResult, verdict } from '../lib/report-types.js';

export interface StartOptions {
  /** Warm restarts measured per start command (the median is reported). */
  restarts: number;
}

interface Started {
  ms: number;
  /** The embedded server's own start, from its log line. */
  postgresMs?: number;
  /** Loading the demo data set, from its log line. */
  seedMs?: number;
}

const COMPILED = ['src/cli/start.mjs'];
const TSX = ['--import', 'tsx', 'src/main.ts'];

/** Spawns the API in `checkout`, times spawn → "ready" line, then stops it with SIGTERM. */
async function startAndStop(checkout: string, args: string[]): Promise<Started> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: checkout,
    env: {
      PATH: process.env.PATH,
      HOME: checkout,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "ready" line within 300 s:\n${output}`)),
      300_000,
    );
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      if (output.includes('GraphQL API ready at')) {
        clearTimeout(timer);
        resolve(performance.now() - started);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before "ready":\n${output}`));
    });
  });
  try {
    const ms = await ready;
    const field = (message: string, name: string) => {
      const line = output.split('\n').find((candidate) => candidate.includes(message));
      const value = line ? (JSON.parse(line) as Record<string, unknown>)[name] : undefined;
      return typeof value === 'number' ? value : undefined;
    };
    return {
      ms,
      postgresMs: field('"embedded PostgreSQL started"', 'ms'),
      seedMs: field('"demo data loaded"', 'elapsedMs'),
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * `npm start` as a newcomer meets it, in a fresh copy of the checkout with the
 * embedded PostgreSQL: the first start (initdb, migrations, demo data), with
 * and without the build `npm install` makes, then warm restarts of the
 * compiled start side by side with the TypeScript start through tsx.
 */
export async function measureStart(options: StartOptions): Promise<MetricResult[]> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'consultator-bench-start-'));
  // Every user may enter it: as root the cluster's data then stays in the checkout.
  await chmod(folder, 0o755);
  try {
    const checkout = path.join(folder, 'checkout');
    await makeCheckout(checkout);
    const load = () => os.loadavg()[0]?.toFixed(1) ?? '?';

    const unbuilt = await startAndStop(checkout, COMPILED);
    const loadAtFirst = load();
    const compiled: number[] = [];
    const viaTsx: number[] = [];
    for (let round = 0; round < options.restarts; round++) {
      compiled.push((await startAndStop(checkout, COMPILED)).ms);
      viaTsx.push((await startAndStop(checkout, TSX)).ms);
    }
    const loadAtRestarts = load();
    // A fresh clone after `npm install` (whose `prepare` built dist/): only the data is new.
    await rm(path.join(checkout, '.data'), { recursive: true, force: true });
    const first = await startAndStop(checkout, COMPILED);

    const conditions = `${os.cpus().length} cores, load average ${loadAtFirst} / ${loadAtRestarts} (1 min, at the first start / the restarts), shared with other work; a copy of the checkout, embedded PostgreSQL`;
    const warm = median(compiled);
    const warmTsx = median(viaTsx);
    return [
      {
        id: 'first_start',
        metric: 'first start (`npm install && npm start` on a fresh clone: spawn → "ready")',
        value: `${seconds(first.ms)} (PostgreSQL initdb + start ${seconds(first.postgresMs ?? Number.NaN)}, demo data ${seconds(first.seedMs ?? Number.NaN)}); ${seconds(unbuilt.ms)} when the build happens at the start too`,
        target: '≤ 15 s',
        verdict: verdict(first.ms <= 15_000),
        conditions,
        data: { first, unbuilt },
      },
      {
        id: 'warm_restart',
        metric: 'warm restart (`npm start` again: spawn → "ready")',
        value: `${seconds(warm)} compiled vs ${seconds(warmTsx)} through tsx (× ${(warmTsx / warm).toFixed(1)}), medians of ${options.restarts}`,
        target: '≤ 3 s',
        verdict: verdict(warm <= 3_000),
        conditions: `${conditions}; the two start commands alternate`,
        data: { compiled, viaTsx },
      },
    ];
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
