import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { dropSecondaryIndexesAndForeignKeys, recreateIndexesAndForeignKeys } from './bulk-load.js';
import { PRACTICES } from './catalog.js';
import { Calendar } from './copy-text.js';
import { buildNamePools, planConsultants } from './plan.js';
import {
  CONSULTANT_COLUMNS,
  CONSULTANT_SKILL_COLUMNS,
  consultantRows,
  consultantSkillRows,
  DOCUMENT_COLUMNS,
  documentRows,
  MISSION_COLUMNS,
  missionRows,
  PRACTICE_COLUMNS,
  practiceRows,
  type RowContext,
  SKILL_COLUMNS,
  skillRows,
} from './rows.js';

export interface SeedOptions {
  consultants: number;
  missions: number;
  documents: number;
  /** Same seed, same options: the same rows, byte for byte. */
  seed: number;
  /** How many practices (1–12); default 8. */
  practices?: number;
  /**
   * The instant the data treats as "now": missions before it are COMPLETED,
   * ACTIVE ones straddle it, PLANNED ones start after it, and no timestamp
   * passes it. Fixed by default ({@link DEFAULT_REFERENCE_DATE}) because the
   * data set must not depend on the day it is generated.
   */
  referenceDate?: Date;
  /**
   * Empty the six staffing tables first (TRUNCATE … RESTART IDENTITY CASCADE)
   * inside the seeding transaction, so a failed seed leaves the old data in
   * place. Without it, seeding a database that holds data throws.
   */
  reset?: boolean;
  onProgress?: (message: string) => void;
}

export interface SeedCounts {
  practices: number;
  skills: number;
  consultants: number;
  consultantSkills: number;
  missions: number;
  documents: number;
}

export interface SeedSummary {
  /** Rows loaded per table, as PostgreSQL reported them. */
  counts: SeedCounts;
  elapsedMs: number;
}

export const DEFAULT_REFERENCE_DATE = new Date('2026-01-01T00:00:00Z');

/** The demo data set of a mid-size consultancy, loaded on first start. */
export const DEFAULT_SEED_OPTIONS: Readonly<SeedOptions> = Object.freeze({
  consultants: 1_000,
  missions: 10_000,
  documents: 2_000,
  seed: 42,
  practices: 8,
});

const DEFAULT_PRACTICES = 8;

/** Every table the seeder fills, parents first. */
const STAFFING_TABLE_NAMES = [
  'practices',
  'skills',
  'consultants',
  'consultant_skills',
  'missions',
  'documents',
] as const;
const STAFFING_TABLES = STAFFING_TABLE_NAMES.join(', ');

/** Tables with a serial or identity `id` whose sequence must move past the copied ids. */
const TABLES_WITH_ID_SEQUENCE = ['practices', 'skills', 'consultants', 'missions', 'documents'];

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/**
 * Checks the options without touching the database, so a command line can
 * reject them before it starts a server.
 *
 * @throws RangeError naming the first bad option.
 */
export function validateSeedOptions(options: SeedOptions): void {
  for (const name of ['consultants', 'missions', 'documents'] as const) {
    const value = options[name];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a whole number of zero or more (got ${value})`);
    }
  }
  if (!Number.isSafeInteger(options.seed)) {
    throw new RangeError(`seed must be a whole number (got ${options.seed})`);
  }
  const practices = options.practices ?? DEFAULT_PRACTICES;
  if (!Number.isInteger(practices) || practices < 1 || practices > PRACTICES.length) {
    throw new RangeError(`practices must be between 1 and ${PRACTICES.length} (got ${practices})`);
  }
  if (options.consultants === 0 && (options.missions > 0 || options.documents > 0)) {
    throw new RangeError('missions and documents need at least one consultant');
  }
  // Ids and dates are generated as 32-bit integers and from a bounded calendar.
  if (options.consultants > 2_000_000_000 || options.documents > 2_000_000_000) {
    throw new RangeError('consultants and documents are limited to 2,000,000,000');
  }
  const referenceDate = options.referenceDate;
  if (referenceDate !== undefined && Number.isNaN(referenceDate.getTime())) {
    throw new RangeError('referenceDate is not a valid date');
  }
}

/** True when the database has neither consultants nor practices: a first start. */
export async function isDatabaseEmpty(pool: Queryable): Promise<boolean> {
  const { rows } = await pool.query<{ empty: boolean }>(
    'SELECT NOT EXISTS (SELECT 1 FROM consultants) AND NOT EXISTS (SELECT 1 FROM practices) AS empty',
  );
  return rows[0]?.empty === true;
}

/**
 * Loads the deterministic demo data set with COPY, streamed from generators:
 * no row is ever held in memory, only about 20 bytes of plan per consultant,
 * so a million consultants and ten million missions load at COPY speed.
 *
 * Everything happens in one transaction, so a failure leaves the tables as
 * they were. The tables stay locked until the commit (readers wait for it),
 * and a second seeder started at the same time waits, then finds the data
 * there and throws. Secondary indexes and foreign keys are
 * set aside during the load and rebuilt after it (see bulk-load.ts). Ids are
 * copied explicitly (consultants are 1..N), the sequences are then moved past
 * them, and the tables are analysed after the commit.
 *
 * @throws Error `database already holds data; seeding needs empty tables`
 *   when consultants or practices exist and `options.reset` is not set.
 * @throws RangeError for invalid options (see {@link validateSeedOptions}).
 */
export async function seedDemoData(pool: pg.Pool, options: SeedOptions): Promise<SeedSummary> {
  validateSeedOptions(options);
  const started = performance.now();
  const report = options.onProgress ?? (() => {});
  const practices = options.practices ?? DEFAULT_PRACTICES;
  const referenceDate = options.referenceDate ?? DEFAULT_REFERENCE_DATE;

  const pools = buildNamePools(options.seed);
  const plan = planConsultants(
    {
      consultants: options.consultants,
      missions: options.missions,
      practices,
      seed: options.seed,
      referenceMs: referenceDate.getTime(),
    },
    pools,
  );
  // Covers the longest tenure (8 years) and the latest planned mission end.
  const calendar = new Calendar(referenceDate, 9, 3);
  const progressFor =
    (table: string, total: number) =>
    (rows: number): void =>
      report(`${table}: ${formatCount(rows)} of ${formatCount(total)} rows`);
  const context = (table: string, total: number): RowContext => ({
    seed: options.seed,
    practices,
    plan,
    pools,
    calendar,
    onRows: progressFor(table, total),
  });

  const client = await pool.connect();
  let connectionBroken = false;
  try {
    await client.query('BEGIN');
    // COPY FREEZE writes rows already frozen (no hint-bit rewrite of every
    // page on first read, no anti-wraparound vacuum later), but PostgreSQL
    // only allows it into tables truncated in the same transaction.
    const freeze = options.reset === true;
    if (options.reset) {
      report('emptying the staffing tables');
      await client.query(`TRUNCATE ${STAFFING_TABLES} RESTART IDENTITY CASCADE`);
    } else {
      // Taken before the check so a second seeder waits here, then finds the
      // data; ACCESS EXCLUSIVE because the index drop below needs it anyway.
      await client.query(`LOCK TABLE ${STAFFING_TABLES} IN ACCESS EXCLUSIVE MODE`);
      if (!(await isDatabaseEmpty(client))) {
        throw new Error('database already holds data; seeding needs empty tables');
      }
    }

    const deferred = await dropSecondaryIndexesAndForeignKeys(client, STAFFING_TABLE_NAMES);
    // Index builds sort in memory up to this limit, then spill to disk; the
    // default 64 MB spills at a few million missions.
    await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);

    const copy = async (table: string, columns: string, rows: Iterable<string>) => {
      const tableStarted = performance.now();
      const count = await copyRows(client, table, columns, rows, freeze);
      report(
        `${table}: ${formatCount(count)} rows in ${formatSeconds(performance.now() - tableStarted)}`,
      );
      return count;
    };
    const counts: SeedCounts = {
      practices: await copy('practices', PRACTICE_COLUMNS, practiceRows(practices)),
      skills: await copy('skills', SKILL_COLUMNS, skillRows()),
      consultants: await copy(
        'consultants',
        CONSULTANT_COLUMNS,
        consultantRows(context('consultants', options.consultants)),
      ),
      consultantSkills: await copy(
        'consultant_skills',
        CONSULTANT_SKILL_COLUMNS,
        // About 5.5 per consultant; the total is only known once generated.
        consultantSkillRows(context('consultant_skills', options.consultants * 5.5)),
      ),
      missions: await copy(
        'missions',
        MISSION_COLUMNS,
        missionRows(context('missions', options.missions), options.missions),
      ),
      documents: await copy(
        'documents',
        DOCUMENT_COLUMNS,
        documentRows(context('documents', options.documents), options.documents),
      ),
    };

    const rebuildStarted = performance.now();
    await recreateIndexesAndForeignKeys(client, deferred, report);
    report(
      `indexes and foreign keys rebuilt in ${formatSeconds(performance.now() - rebuildStarted)}`,
    );

    for (const table of TABLES_WITH_ID_SEQUENCE) {
      // The next plain INSERT must get max(id) + 1, or 1 for an empty table.
      await client.query(
        `SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE(max(id), 0) + 1, false) FROM ${table}`,
        [table],
      );
    }
    await client.query('COMMIT');

    report('analysing');
    // VACUUM as well for consultants: it sets the visibility map, without
    // which a search cannot read the name index alone (migration 0006) until
    // autovacuum gets round to a freshly loaded table.
    await client.query('VACUUM (ANALYZE) consultants');
    await client.query(`ANALYZE ${STAFFING_TABLES}`);
    const elapsedMs = Math.round(performance.now() - started);
    report(`seeded in ${formatSeconds(elapsedMs)}`);
    return { counts, elapsedMs };
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection died mid-COPY; it is discarded below instead of reused.
      connectionBroken = true;
    }
    throw error;
  } finally {
    client.release(connectionBroken);
  }
}

/** Streams `rows` into `table` with COPY and returns the row count PostgreSQL reports. */
async function copyRows(
  client: pg.PoolClient,
  table: string,
  columns: string,
  rows: Iterable<string>,
  freeze: boolean,
): Promise<number> {
  const options = freeze ? ' WITH (FREEZE)' : '';
  const stream = client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN${options}`));
  // A few chunks in flight are enough to keep the socket busy; pipeline's
  // backpressure pauses the generator beyond that.
  await pipeline(Readable.from(yieldingToEventLoop(rows), { highWaterMark: 4 }), stream);
  return stream.rowCount;
}

/**
 * While the socket accepts every write at once, the generator → stream →
 * socket chain completes through nextTick callbacks alone and never returns to
 * the event loop: timers, signals and other sockets then starve for as long as
 * the load lasts (8.8 s measured on a million missions). Yielding a
 * macrotask per chunk costs microseconds per 256 kB.
 */
async function* yieldingToEventLoop(rows: Iterable<string>): AsyncGenerator<string> {
  for (const chunk of rows) {
    yield chunk;
    await setImmediate();
  }
}

function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
