import pg from 'pg';
import { CHANGE_TABLES } from '../../src/db/change-contract.js';
import { verifyStatsSummary } from '../../src/stats/maintenance.js';
import {
  type BenchServer,
  createThrowawayDatabase,
  type ThrowawayDatabase,
  withClient,
} from '../lib/database.js';
import { median, sleep } from '../lib/measure.js';
import { type ServerProcess, startApi } from '../lib/processes.js';
import { fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';

/** 1,000 consultants and 10,000 missions, generated in SQL: write cost barely depends on size. */
const FILL_SQL = `
INSERT INTO practices (name) SELECT 'Practice ' || g FROM generate_series(1, 8) g;
INSERT INTO skills (name, category) SELECT 'Skill ' || g, 'Category ' || g % 10 FROM generate_series(1, 100) g;
INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
SELECT 'First' || g, 'Last' || g, 'c' || g || '@example.com', 1 + g % 8, 'SENIOR', 400 + g % 600,
  (ARRAY['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE']::availability[])[1 + g % 3]
FROM generate_series(1, 1000) g;
INSERT INTO consultant_skills (consultant_id, skill_id, level)
SELECT c, 1 + (c * 7 + k * 13) % 100, 3 FROM generate_series(1, 1000) c, generate_series(1, 5) k
ON CONFLICT DO NOTHING;
INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
SELECT 1 + g % 1000, 'Client ' || g % 300, 'Mission ' || g, DATE '2020-01-01' + g % 2000, 500 + g % 700,
  (ARRAY['PLANNED', 'ACTIVE', 'COMPLETED', 'CANCELLED']::mission_status[])[1 + g % 4]
FROM generate_series(1, 10000) g;`;

const TOGGLE_AVAILABILITY_SQL = `UPDATE consultants SET availability = CASE availability
    WHEN 'AVAILABLE' THEN 'UNAVAILABLE'::availability
    WHEN 'UNAVAILABLE' THEN 'AVAILABLE'::availability ELSE availability END
  WHERE id = $1`;

export interface WriteLoadOptions {
  writers: number;
  seconds: number;
  /** Share of transactions that update a consultant; the rest insert a mission. */
  updateShare: number;
  /** Consultant ids are drawn from 1…this. */
  consultants: number;
  warmupMs?: number;
}

/**
 * Writers on connections of their own running single-statement
 * transactions back to back (bounded by `seconds`): an INSERT of a mission
 * or an UPDATE of a consultant's availability. Returns transactions per
 * second after the warm-up.
 */
export async function runWriteLoad(
  url: string,
  options: WriteLoadOptions,
): Promise<{ tps: number; transactions: number }> {
  const clients = await Promise.all(
    Array.from({ length: options.writers }, async () => {
      const client = new pg.Client({ connectionString: url, application_name: 'bench-writer' });
      client.on('error', () => {});
      await client.connect();
      return client;
    }),
  );
  const warmupMs = options.warmupMs ?? 500;
  const measureFrom = Date.now() + warmupMs;
  const end = measureFrom + options.seconds * 1000;
  let counted = 0;
  let total = 0;
  const loop = async (client: pg.Client, writer: number) => {
    let i = 0;
    for (let now = Date.now(); now < end; now = Date.now()) {
      i += 1;
      const consultant = 1 + Math.floor(Math.random() * options.consultants);
      if (Math.random() < options.updateShare) {
        // AVAILABLE <-> UNAVAILABLE only (an ON_MISSION row is rewritten
        // unchanged), so the seed's rule, ON_MISSION exactly when an ACTIVE
        // mission exists, survives the load.
        await client.query(TOGGLE_AVAILABILITY_SQL, [consultant]);
      } else {
        await client.query(
          `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
           VALUES ($1, 'Bench', $2, '2025-01-01', $3, 'ACTIVE')`,
          [consultant, `w${writer} ${i}`, 500 + (i % 500)],
        );
      }
      total += 1;
      if (now >= measureFrom) counted += 1;
    }
  };
  try {
    await Promise.all(clients.map((client, writer) => loop(client, writer)));
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  return { tps: counted / options.seconds, transactions: total };
}

async function prepare(server: BenchServer, triggers: boolean): Promise<ThrowawayDatabase> {
  const database = await createThrowawayDatabase(server, `wt_${triggers ? 'on' : 'off'}`);
  await withClient(database.url, async (client) => {
    await client.query(FILL_SQL);
    if (!triggers) {
      for (const table of CHANGE_TABLES) {
        // USER spares the foreign-key triggers, which both databases need alike.
        await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      }
    }
    await client.query('VACUUM ANALYZE');
  });
  return database;
}

/**
 * Write TPS with the change triggers (stats deltas + NOTIFY) on vs off, at
 * each writer count. With triggers on, the real API runs against that
 * database (LISTEN, fold per change), as in production; rounds alternate
 * which goes first so warming caches and WAL favour neither.
 */
export async function measureWriteThroughput(
  server: BenchServer,
  options: { writers: number[]; seconds: number; rounds: number },
): Promise<MetricResult> {
  const on = await prepare(server, true);
  const off = await prepare(server, false).catch(async (error) => {
    await on.drop();
    throw error;
  });
  let api: ServerProcess | undefined;
  try {
    api = await startApi({ databaseUrl: on.url });
    const rows: { writers: number; on: number; off: number; ratio: number }[] = [];
    for (const writers of options.writers) {
      const ratios: number[] = [];
      const tps = { on: [] as number[], off: [] as number[] };
      for (let round = 0; round < options.rounds; round += 1) {
        const order = round % 2 === 0 ? [on, off] : [off, on];
        const result: Record<string, number> = {};
        for (const db of order) {
          const run = await runWriteLoad(db.url, {
            writers,
            seconds: options.seconds,
            updateShare: 0.3,
            consultants: 1000,
          });
          result[db === on ? 'on' : 'off'] = run.tps;
          (db === on ? tps.on : tps.off).push(run.tps);
          // Let the API fold the tail of the burst before the next run starts.
          await sleep(300);
        }
        ratios.push((result.on ?? 0) / (result.off ?? 1));
      }
      rows.push({ writers, on: median(tps.on), off: median(tps.off), ratio: median(ratios) });
    }
    // The point of the triggers is exact statistics: check them after the load.
    const pool = new pg.Pool({ connectionString: on.url, max: 1 });
    pool.on('error', () => {});
    const verified = await verifyStatsSummary(pool);
    await pool.end();
    const ok = rows.every((row) => row.ratio >= 0.75) && verified.ok;
    return {
      id: 'write_tps_ratio',
      metric: `write TPS with change-detection triggers on vs off, ${options.writers.join(' and ')} writers`,
      value: rows
        .map(
          (r) =>
            `${fmtRatio(r.ratio)} (${r.writers}w: ${r.on.toFixed(0)} vs ${r.off.toFixed(0)} tx/s)`,
        )
        .join('; '),
      target: 'ratio ≥ 0.75',
      verdict: verdict(ok),
      conditions: `1k consultants / 10k missions, 70% mission inserts + 30% availability updates, single-statement transactions, ${options.rounds} alternating round(s) of ${options.seconds} s, median round ratio; the API runs against the triggers-on database; stats summary after the load ${verified.ok ? 'matches a full recompute' : 'DIFFERS from a full recompute'}`,
      data: { rows, verified: verified.ok },
    };
  } finally {
    await api?.stop();
    await on.drop();
    await off.drop();
  }
}
