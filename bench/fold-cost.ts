/**
 * What one change costs the stats slice, on an existing database (the
 * full-size bench database, say): statements and milliseconds of the fold +
 * snapshot that follows a single-row write, as the API runs it.
 *
 *   npx tsx bench/fold-cost.ts --url postgres://postgres@127.0.0.1:5432/bench_1m [--writes 50]
 *
 * Each write toggles a consultant between AVAILABLE and UNAVAILABLE (never
 * ON_MISSION) and every toggle is undone at the end, so the data is left as
 * it was; the database gets the project's migrations first, as the API
 * would apply them at start.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPool, SqlStatementCounter } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { TOP_SKILLS_COMPUTED } from '../src/stats/computer.js';
import { foldStats } from '../src/stats/fold.js';
import { createAvailabilityFlipper } from './lib/availability.js';
import { createLatencyHistogram, recordMs, summarize } from './lib/measure.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, writes: { type: 'string', default: '50' } },
  });
  if (!values.url)
    throw new Error('usage: npx tsx bench/fold-cost.ts --url <database> [--writes N]');
  const writes = Number(values.writes);
  await runMigrations(values.url);
  const counter = new SqlStatementCounter();
  const pool = createPool({ connectionString: values.url, max: 2, counter });
  const writer = new pg.Client({ connectionString: values.url, application_name: 'bench-fold' });
  await writer.connect();
  const flipper = await createAvailabilityFlipper(writer);
  const histogram = createLatencyHistogram();
  const statements: number[] = [];
  // Another API instance on the database may fold a write first: then this
  // call waits for it and gets the published snapshot back.
  let consumed = 0;
  try {
    // Whatever was pending, and the plan cache of the pooled sessions, first.
    for (let i = 0; i < 3; i += 1) await foldStats(pool, { topSkills: TOP_SKILLS_COMPUTED });
    for (let i = 0; i < writes; i += 1) {
      await flipper.flip();
      const before = counter.total;
      const started = performance.now();
      const outcome = await foldStats(pool, { topSkills: TOP_SKILLS_COMPUTED, instance: 'bench' });
      recordMs(histogram, performance.now() - started);
      statements.push(counter.total - before);
      if (outcome.deltas > 0) consumed += 1;
    }
  } finally {
    await flipper.restore();
    await foldStats(pool, { topSkills: TOP_SKILLS_COMPUTED });
    await writer.end();
    await pool.end();
  }
  const summary = summarize(histogram);
  console.log(
    JSON.stringify(
      {
        writes,
        statementsPerFold: [...new Set(statements)],
        foldsThatConsumedTheWrite: consumed,
        foldMs: { p50: summary.p50, p95: summary.p95, p99: summary.p99, max: summary.max },
        note: 'one single-row write, then the fold + snapshot the API runs for it (client-side wall time, one round trip)',
      },
      null,
      2,
    ),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
