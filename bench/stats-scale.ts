/**
 * Cost of reading the dashboard aggregates at two data sizes, side by side.
 *
 *   npx tsx bench/stats-scale.ts [--url postgres://postgres@127.0.0.1:5432/postgres]
 *     [--small 1000,10000] [--large 100000,1000000] [--reads 200]
 *
 * Loads two throwaway databases (consultants,missions per size) and times,
 * on each, `readDashboardStats` (what the server runs once per change: fold
 * pending deltas, read the summary rows) and, for reference, the full
 * recompute from the base tables. Prints median and p95 per size and the
 * large/small ratios.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runMigrations } from '../src/db/migrate.js';
import { computeDashboardStatsFromScratch, readDashboardStats } from '../src/db/queries/stats.js';
import { seedDemoData } from '../src/db/seed/index.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    small: { type: 'string', default: '1000,10000' },
    large: { type: 'string', default: '100000,1000000' },
    reads: { type: 'string', default: '200' },
  },
});
const reads = Number(values.reads);
if (!(reads >= 1 && reads <= 10_000)) throw new Error('--reads: 1…10000');

function parseSize(text: string): { consultants: number; missions: number } {
  const [consultants, missions] = text.split(',').map(Number);
  if (!consultants || !missions || consultants > 2_000_000 || missions > 20_000_000) {
    throw new Error(`bad size "${text}": consultants,missions`);
  }
  return { consultants, missions };
}

function quantile(sorted: number[], q: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  ] as number;
}

async function time(runs: number, work: () => Promise<unknown>) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await work();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { median: quantile(samples, 0.5), p95: quantile(samples, 0.95) };
}

async function measure(adminUrl: string, size: { consultants: number; missions: number }) {
  const name = `bench_stats_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    await runMigrations(url.toString());
    const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
    const loadStarted = performance.now();
    await seedDemoData(pool, {
      ...size,
      documents: Math.round(size.consultants * 2),
      seed: 42,
    });
    const loadMs = performance.now() - loadStarted;
    await pool.query('VACUUM ANALYZE');
    // Warm the caches of PostgreSQL and the plan cache before timing.
    await readDashboardStats(pool);
    const incremental = await time(reads, () => readDashboardStats(pool));
    const full = await time(Math.min(5, reads), () => computeDashboardStatsFromScratch(pool));
    await pool.end();
    return { size, loadMs, incremental, full };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const small = await measure(values.url, parseSize(values.small));
const large = await measure(values.url, parseSize(values.large));
const ms = (value: number) => `${value.toFixed(2)} ms`;
for (const result of [small, large]) {
  console.log(
    `${result.size.consultants} consultants / ${result.size.missions} missions (loaded in ${(result.loadMs / 1000).toFixed(1)} s): ` +
      `stats read median ${ms(result.incremental.median)}, p95 ${ms(result.incremental.p95)}; ` +
      `full recompute median ${ms(result.full.median)}`,
  );
}
console.log(
  `ratio large/small: stats read median ${(large.incremental.median / small.incremental.median).toFixed(2)}, ` +
    `p95 ${(large.incremental.p95 / small.incremental.p95).toFixed(2)}; full recompute ${(large.full.median / small.full.median).toFixed(1)}`,
);
console.log(JSON.stringify({ metric: 'stats_read_ms', small, large }));
