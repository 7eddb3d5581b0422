/**
 * Write throughput with and without the change triggers (statement-level
 * stats deltas + NOTIFY, drizzle/0003_stats_triggers.sql).
 *
 *   npx tsx bench/write-throughput.ts [--url postgres://postgres@127.0.0.1:5432/postgres]
 *     [--seconds 5] [--writers 1,8] [--rounds 2] [--update-share 0.3] [--keep]
 *     [--always-notify] [--coalesce-ms 100]
 *
 * Creates two throwaway databases on the server behind the admin `--url`,
 * migrates and fills both identically (8 practices, 100 skills, 1,000
 * consultants, 10,000 missions), disables the user triggers of every table
 * in one of them, and then, for each writer count, alternates timed runs on
 * the two (rounds × on/off, so drift of the machine hits both alike). Each
 * writer has its own connection and runs single-statement transactions back
 * to back: an INSERT of one mission, or (a share `--update-share`) an UPDATE
 * of one consultant's availability. While the triggers are on, the API's
 * part runs too, as the server would, in a child process: one LISTENing
 * connection, and a fold after each notification, throttled like the stats
 * publisher does (`--coalesce-ms`, default 100 like STATS_COALESCE_MS).
 *
 * Prints transactions per second per configuration and the on/off ratios.
 *
 * `--always-notify` makes every writing transaction NOTIFY (the simple design
 * the migration improves on, see its header), to measure what that costs.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { CHANGE_TABLES, CHANGES_CHANNEL } from '../src/changes/events.js';
import { runMigrations } from '../src/db/migrate.js';
import { foldStatsDeltas, verifyStatsSummary } from '../src/db/queries/stats.js';

interface Options {
  adminUrl: string;
  seconds: number;
  writers: number[];
  rounds: number;
  updateShare: number;
  keep: boolean;
  alwaysNotify: boolean;
  /** The stats publisher's STATS_COALESCE_MS: at most one fold that moves the version per window. */
  coalesceMs: number;
  /** Internal: run only the API's side against this database URL (a child process). */
  apiSide: string | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      seconds: { type: 'string', default: '5' },
      writers: { type: 'string', default: '1,8' },
      rounds: { type: 'string', default: '2' },
      'update-share': { type: 'string', default: '0.3' },
      keep: { type: 'boolean', default: false },
      'always-notify': { type: 'boolean', default: false },
      'coalesce-ms': { type: 'string', default: '100' },
      'api-side': { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const updateShare = Number(values['update-share']);
  const coalesceMs = Number(values['coalesce-ms']);
  const writers = values.writers.split(',').map(Number);
  // Bounded on purpose: this runs on shared development machines.
  if (!(seconds > 0 && seconds <= 60)) throw new Error('--seconds must be in (0, 60]');
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 5)) throw new Error('--rounds: 1…5');
  if (!(updateShare >= 0 && updateShare <= 1)) throw new Error('--update-share: 0…1');
  if (!(Number.isInteger(coalesceMs) && coalesceMs >= 0 && coalesceMs <= 1000)) {
    throw new Error('--coalesce-ms: 0…1000');
  }
  if (!writers.every((n) => Number.isInteger(n) && n >= 1 && n <= 32)) {
    throw new Error('--writers: comma-separated integers in 1…32');
  }
  return {
    adminUrl: values.url,
    seconds,
    writers,
    rounds,
    updateShare,
    keep: values.keep,
    alwaysNotify: values['always-notify'],
    coalesceMs,
    apiSide: values['api-side'],
  };
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'bench-write-throughput',
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

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

interface BenchDatabase {
  name: string;
  url: string;
  triggers: boolean;
}

async function prepare(options: Options, triggers: boolean): Promise<BenchDatabase> {
  const name = `bench_wt_${triggers ? 'on' : 'off'}_${randomBytes(3).toString('hex')}`;
  await withClient(options.adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(options.adminUrl, name);
  await runMigrations(url);
  await withClient(url, async (client) => {
    await client.query(FILL_SQL);
    if (triggers && options.alwaysNotify) {
      // Writers notify whenever no fold is due: keeping it never due makes
      // every writing transaction notify.
      await client.query(`
        CREATE FUNCTION bench_never_due() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.refold_expected_until := NULL;
          RETURN NEW;
        END
        $$`);
      await client.query(`CREATE TRIGGER bench_never_due BEFORE UPDATE ON stats_state
        FOR EACH ROW EXECUTE FUNCTION bench_never_due()`);
    }
    if (!triggers) {
      for (const table of CHANGE_TABLES) {
        // USER spares the foreign-key triggers, which both databases need alike.
        await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      }
    }
    await client.query('VACUUM ANALYZE');
  });
  if (triggers) await withClient(url, (client) => foldStatsDeltas(client));
  return { name, url, triggers };
}

interface ApiSideStats {
  folds: number;
  /** Mean wall time of a fold, including its wake-up check. */
  foldMs: number;
  /** Notifications sent by writers (the rest come from folds). */
  writerNotifications: number;
}

/**
 * The server's side while triggers are on, as the stats publisher
 * (src/changes/stats-publisher.ts) does it: listen; after a notification,
 * fold at once if the last fold that moved the version is `coalesceMs` old,
 * otherwise when it will be; one fold at a time.
 */
async function startApiSide(
  url: string,
  coalesceMs: number,
): Promise<{ stop(): Promise<ApiSideStats> }> {
  const listener = new pg.Client({ connectionString: url, application_name: 'bench-listener' });
  const folder = new pg.Client({ connectionString: url, application_name: 'bench-folder' });
  await listener.connect();
  await folder.connect();
  const folderPid = (await folder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
    ?.pid;
  let folds = 0;
  let foldMs = 0;
  let writerNotifications = 0;
  let timer: NodeJS.Timeout | undefined;
  let lastChangeStartedAt = 0;
  let running: Promise<void> | undefined;
  let dirty = false;
  let stopped = false;
  const fold = () => {
    timer = undefined;
    if (running) {
      dirty = true;
      return;
    }
    const startedAt = Date.now();
    const started = performance.now();
    running = foldStatsDeltas(folder)
      .then((result) => {
        folds += 1;
        foldMs += performance.now() - started;
        if (result.changed) lastChangeStartedAt = startedAt;
      })
      .finally(() => {
        running = undefined;
        if (dirty && !stopped) {
          dirty = false;
          schedule();
        }
      });
  };
  const schedule = () => {
    if (stopped || timer) return;
    if (running) {
      dirty = true;
      return;
    }
    timer = setTimeout(fold, Math.max(0, lastChangeStartedAt + coalesceMs - Date.now()));
  };
  listener.on('notification', (notification) => {
    if (notification.processId !== folderPid) writerNotifications += 1;
    schedule();
  });
  await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await listener.end();
      await folder.end();
      return { folds, foldMs: folds === 0 ? 0 : foldMs / folds, writerNotifications };
    },
  };
}

/**
 * Runs the API's side in a child process, as in production: in this process
 * its folds and notifications would compete with the writers for the event
 * loop and inflate the measured cost.
 */
async function spawnApiSide(
  url: string,
  coalesceMs: number,
): Promise<{ stop(): Promise<ApiSideStats> }> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--api-side',
      url,
      '--coalesce-ms',
      String(coalesceMs),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error('the API-side process exited early');
    return line.value;
  };
  if ((await next()) !== 'ready') throw new Error('the API-side process did not start');
  return {
    async stop() {
      child.stdin.end();
      return JSON.parse(await next()) as ApiSideStats;
    },
  };
}

/** Child process entry: API side until stdin closes, then its stats as one JSON line. */
async function runApiSideProcess(url: string, coalesceMs: number): Promise<void> {
  const api = await startApiSide(url, coalesceMs);
  process.stdout.write('ready\n');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  process.stdout.write(`${JSON.stringify(await api.stop())}\n`);
}

async function timedRun(
  db: BenchDatabase,
  writers: number,
  options: Options,
): Promise<{ tps: number; transactions: number; api: ApiSideStats | undefined }> {
  const clients = await Promise.all(
    Array.from({ length: writers }, async () => {
      const client = new pg.Client({ connectionString: db.url, application_name: 'bench-writer' });
      await client.connect();
      return client;
    }),
  );
  const api = db.triggers ? await spawnApiSide(db.url, options.coalesceMs) : undefined;
  const warmupMs = 500;
  const start = Date.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + options.seconds * 1000;
  let counted = 0;
  let total = 0;
  const statuses = ['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE'];
  const loop = async (client: pg.Client, w: number) => {
    let i = 0;
    for (let now = Date.now(); now < end; now = Date.now()) {
      i += 1;
      if (Math.random() < options.updateShare) {
        await client.query('UPDATE consultants SET availability = $1 WHERE id = $2', [
          statuses[i % 3],
          1 + Math.floor(Math.random() * 1000),
        ]);
      } else {
        await client.query(
          `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
           VALUES ($1, 'Bench', $2, '2025-01-01', $3, 'ACTIVE')`,
          [1 + Math.floor(Math.random() * 1000), `w${w} ${i}`, 500 + (i % 500)],
        );
      }
      total += 1;
      if (now >= measureFrom) counted += 1;
    }
  };
  try {
    await Promise.all(clients.map((client, w) => loop(client, w)));
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  return { tps: counted / options.seconds, transactions: total, api: await api?.stop() };
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options.apiSide) return runApiSideProcess(options.apiSide, options.coalesceMs);
  const databases: BenchDatabase[] = [];
  try {
    const server = await withClient(options.adminUrl, async (client) => {
      const { rows } = await client.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings
         WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay')
         ORDER BY name`,
      );
      return rows.map((row) => `${row.name}=${row.setting}`).join(' ');
    });
    console.log(`server: ${server}`);
    console.log(
      `runs: ${options.seconds} s each (+0.5 s warm-up), ${options.rounds} round(s), writers ${options.writers.join(', ')}, update share ${options.updateShare}, at most one fold per ${options.coalesceMs} ms${options.alwaysNotify ? ', NOTIFY in every transaction' : ''}`,
    );
    const on = await prepare(options, true);
    databases.push(on);
    const off = await prepare(options, false);
    databases.push(off);

    const results: { writers: number; on: number; off: number; ratios: number[] }[] = [];
    for (const writers of options.writers) {
      let onSum = 0;
      let offSum = 0;
      const ratios: number[] = [];
      for (let round = 0; round < options.rounds; round += 1) {
        // Alternate which goes first so warming caches and WAL favour neither.
        const order = round % 2 === 0 ? [on, off] : [off, on];
        const tps = { on: 0, off: 0 };
        for (const db of order) {
          const run = await timedRun(db, writers, options);
          tps[db.triggers ? 'on' : 'off'] = run.tps;
          const api = run.api
            ? `  ${run.api.folds} folds of ${run.api.foldMs.toFixed(1)} ms, ${((100 * run.api.writerNotifications) / run.transactions).toFixed(1)}% of transactions notified`
            : '';
          console.log(
            `  writers=${writers} round=${round + 1} triggers=${db.triggers ? 'on ' : 'off'} ${run.tps.toFixed(0).padStart(6)} tx/s${api}`,
          );
        }
        onSum += tps.on;
        offSum += tps.off;
        ratios.push(tps.on / tps.off);
      }
      results.push({ writers, on: onSum / options.rounds, off: offSum / options.rounds, ratios });
    }

    // The point of the triggers is exact statistics: check them after the load.
    const pool = new pg.Pool({ connectionString: on.url, max: 1 });
    const verified = await verifyStatsSummary(pool);
    await pool.end();

    // Rounds alternate on/off, so each round's ratio compares runs seconds
    // apart: its median resists a noisy neighbour better than the means do.
    console.log('\nwriters  triggers on   triggers off   ratio of means   median ratio');
    for (const r of results) {
      const sorted = [...r.ratios].sort((a, b) => a - b);
      const middle = sorted.length / 2;
      const median =
        sorted.length % 2 === 1
          ? (sorted[Math.floor(middle)] ?? 0)
          : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
      console.log(
        `${String(r.writers).padStart(7)}  ${r.on.toFixed(0).padStart(8)} tx/s  ${r.off.toFixed(0).padStart(8)} tx/s  ${(r.on / r.off).toFixed(2).padStart(14)}  ${median.toFixed(2).padStart(13)}`,
      );
    }
    console.log(
      `\nstats summary after the load: ${verified.ok ? 'matches a full recompute' : `DIFFERS\n${verified.differences.join('\n')}`}`,
    );
    if (!verified.ok) process.exitCode = 1;
  } finally {
    if (options.keep) {
      console.log(`kept databases: ${databases.map((db) => db.name).join(', ')}`);
    } else {
      await withClient(options.adminUrl, async (client) => {
        for (const db of databases) {
          await client.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
        }
      });
    }
  }
}

await main();
