import pg from 'pg';
import { TOP_SKILLS_COMPUTED } from '../../src/stats/computer.js';
import { readDashboardStats } from '../../src/stats/fold.js';
import { computeDashboardStatsFromScratch } from '../../src/stats/snapshot.js';
import { type DataSize, formatSize } from '../lib/database.js';
import {
  createLatencyHistogram,
  type LatencySummary,
  recordMs,
  summarize,
  timeMs,
} from '../lib/measure.js';
import { fmtMs, fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';

export interface SizedDatabase {
  size: DataSize;
  url: string;
}

export interface StatsCostPoint {
  size: DataSize;
  /** What the server runs per change: fold pending deltas, read the summary rows. */
  incremental: LatencySummary;
  /** The same numbers from the base tables: what it would cost without the summary. */
  fullRecomputeMs: number;
}

/**
 * Times the stats read on every database, round-robin one read at a time so
 * all sizes share the same moments of the machine, then one full recompute
 * per size for reference. Compares the largest to the smallest.
 */
export async function measureStatsScale(
  databases: SizedDatabase[],
  reads: number,
): Promise<{ metric: MetricResult; points: StatsCostPoint[] }> {
  const pools = databases.map((db) => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pool.on('error', () => {});
    return pool;
  });
  try {
    const histograms = databases.map(() => createLatencyHistogram());
    const read = (pool: pg.Pool) => readDashboardStats(pool, { topSkills: TOP_SKILLS_COMPUTED });
    for (const pool of pools) {
      await pool.query('VACUUM ANALYZE');
      for (let i = 0; i < 5; i += 1) await read(pool);
    }
    for (let i = 0; i < reads; i += 1) {
      for (const [index, pool] of pools.entries()) {
        recordMs(
          histograms[index] as ReturnType<typeof createLatencyHistogram>,
          await timeMs(() => read(pool)),
        );
      }
    }
    const points: StatsCostPoint[] = [];
    for (const [index, pool] of pools.entries()) {
      const fullRecomputeMs = await timeMs(() =>
        computeDashboardStatsFromScratch(pool, { topSkills: TOP_SKILLS_COMPUTED }),
      );
      points.push({
        size: (databases[index] as SizedDatabase).size,
        incremental: summarize(histograms[index] as ReturnType<typeof createLatencyHistogram>),
        fullRecomputeMs,
      });
    }
    const small = points[0] as StatsCostPoint;
    const large = points.at(-1) as StatsCostPoint;
    const ratio = large.incremental.p50 / small.incremental.p50;
    return {
      points,
      metric: {
        id: 'stats_scale',
        metric: `stats query at ${formatSize(large.size)} vs at ${formatSize(small.size)}`,
        value: `${fmtRatio(ratio)}; ${fmtMs(large.incremental.p50)} vs ${fmtMs(small.incremental.p50)} (median)`,
        target: 'ratio ≤ 1.2 and ≤ 5 ms',
        verdict: verdict(ratio <= 1.2 && large.incremental.p50 <= 5),
        conditions: `readDashboardStats (fold + summary read, what a recompute costs), ${reads} reads per size, round-robin; p95 ${fmtMs(large.incremental.p95)} vs ${fmtMs(small.incremental.p95)}; full recompute from the base tables ${fmtMs(large.fullRecomputeMs)} vs ${fmtMs(small.fullRecomputeMs)}`,
        data: { ratio, points },
      },
    };
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
}
