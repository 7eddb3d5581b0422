import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_REFERENCE_DATE,
  isDatabaseEmpty,
  type SeedOptions,
  type SeedSummary,
  seedDemoData,
} from '../src/db/seed/index.js';
import { createTestDatabase, createTestPool, type TestDatabase } from './support/database.js';

type LocalTestDatabase = TestDatabase;

/** A fresh, migrated, empty database of its own, from the shared harness. */
function createMigratedDatabase(): Promise<LocalTestDatabase> {
  return createTestDatabase({ empty: true });
}

const SMALL: SeedOptions = { consultants: 50, missions: 300, documents: 80, seed: 42 };
const REFERENCE_DAY = DEFAULT_REFERENCE_DATE.toISOString().slice(0, 10);

const databases: LocalTestDatabase[] = [];
const pools: pg.Pool[] = [];

async function freshPool(): Promise<pg.Pool> {
  const database = await createMigratedDatabase();
  databases.push(database);
  const pool = createTestPool(database.url);
  pools.push(pool);
  return pool;
}

/** One value standing for every row of a table, in a fixed order. */
async function tableDigest(pool: pg.Pool, table: string, orderBy: string): Promise<string> {
  const { rows } = await pool.query<{ digest: string }>(
    `SELECT md5(string_agg(t::text, E'\\n' ORDER BY ${orderBy})) AS digest FROM ${table} t`,
  );
  return rows[0]?.digest ?? '';
}

async function digests(pool: pg.Pool): Promise<Record<string, string>> {
  return {
    practices: await tableDigest(pool, 'practices', 'id'),
    skills: await tableDigest(pool, 'skills', 'id'),
    consultants: await tableDigest(pool, 'consultants', 'id'),
    consultantSkills: await tableDigest(pool, 'consultant_skills', 'consultant_id, skill_id'),
    missions: await tableDigest(pool, 'missions', 'id'),
    documents: await tableDigest(pool, 'documents', 'id'),
  };
}

async function countWhere(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ count: string }>(sql, params);
  return Number(rows[0]?.count);
}

describe('seedDemoData', () => {
  let seeded: pg.Pool;
  let summary: SeedSummary;

  beforeAll(async () => {
    seeded = await freshPool();
    summary = await seedDemoData(seeded, SMALL);
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await Promise.all(databases.map((database) => database.drop()));
  });

  it('loads the requested rows into every table and reports them', async () => {
    expect(summary.counts).toMatchObject({
      practices: 8,
      consultants: 50,
      missions: 300,
      documents: 80,
    });
    expect(summary.counts.skills).toBeGreaterThanOrEqual(100);
    // 3 to 8 skills each.
    expect(summary.counts.consultantSkills).toBeGreaterThanOrEqual(150);
    expect(summary.counts.consultantSkills).toBeLessThanOrEqual(400);
    expect(summary.elapsedMs).toBeGreaterThan(0);

    const { rows } = await seeded.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM practices) AS practices,
              (SELECT count(*) FROM skills) AS skills,
              (SELECT count(*) FROM consultants) AS consultants,
              (SELECT count(*) FROM consultant_skills) AS "consultantSkills",
              (SELECT count(*) FROM missions) AS missions,
              (SELECT count(*) FROM documents) AS documents`,
    );
    const counted = Object.fromEntries(
      Object.entries(rows[0] ?? {}).map(([table, count]) => [table, Number(count)]),
    );
    expect(counted).toEqual(summary.counts);
  });

  it('produces the same rows for the same seed and other rows for another', async () => {
    const twin = await freshPool();
    await seedDemoData(twin, SMALL);
    const expected = await digests(seeded);
    expect(await digests(twin)).toEqual(expected);

    await seedDemoData(twin, { ...SMALL, seed: 43, reset: true });
    const other = await digests(twin);
    expect(other.consultants).not.toBe(expected.consultants);
    expect(other.missions).not.toBe(expected.missions);
    // The catalogue does not depend on the seed.
    expect(other.practices).toBe(expected.practices);
    expect(other.skills).toBe(expected.skills);
  });

  it('gives every consultant on a mission exactly one ACTIVE mission, and nobody else any', async () => {
    const mismatched = await countWhere(
      seeded,
      `SELECT count(*) FROM consultants c
        WHERE (SELECT count(*) FROM missions m WHERE m.consultant_id = c.id AND m.status = 'ACTIVE')
              <> CASE WHEN c.availability = 'ON_MISSION' THEN 1 ELSE 0 END`,
    );
    expect(mismatched).toBe(0);
    const onMission = await countWhere(
      seeded,
      `SELECT count(*) FROM consultants WHERE availability = 'ON_MISSION'`,
    );
    // About 70 % of 50.
    expect(onMission).toBeGreaterThan(25);
    expect(onMission).toBeLessThan(45);
  });

  it('dates missions consistently with their status and the reference date', async () => {
    const { rows } = await seeded.query<{ status: string; bad: string }>(
      `SELECT status, count(*) FILTER (WHERE NOT ok) AS bad FROM (
         SELECT status,
                -- A NULL would slip through NOT ok: a missing end date counts as wrong.
                coalesce(CASE status
                  WHEN 'ACTIVE' THEN start_date < $1::date AND (end_date IS NULL OR end_date > $1::date)
                  WHEN 'COMPLETED' THEN end_date < $1::date
                  WHEN 'CANCELLED' THEN end_date IS NOT NULL
                  WHEN 'PLANNED' THEN start_date > $1::date
                END
                AND (end_date IS NULL OR end_date >= start_date)
                AND start_date >= $1::date - 4 * 365
                AND created_at <= $1::timestamptz AND updated_at BETWEEN created_at AND $1::timestamptz
                AND daily_rate > 0, false) AS ok
           FROM missions) AS checked
       GROUP BY status ORDER BY status`,
      [REFERENCE_DAY],
    );
    const badByStatus = Object.fromEntries(rows.map((row) => [row.status, Number(row.bad)]));
    expect(badByStatus).toEqual({ ACTIVE: 0, CANCELLED: 0, COMPLETED: 0, PLANNED: 0 });
  });

  it('gives some consultants hyphenated or apostrophed names, for the search tests', async () => {
    const { rows } = await seeded.query<{ hyphens: string; apostrophes: string }>(
      `SELECT count(*) FILTER (WHERE first_name LIKE '%-%' OR last_name LIKE '%-%') AS hyphens,
              count(*) FILTER (WHERE last_name ~ '[''’]') AS apostrophes
         FROM consultants`,
    );
    expect(Number(rows[0]?.hyphens)).toBeGreaterThan(0);
    expect(Number(rows[0]?.apostrophes)).toBeGreaterThan(0);
  });

  it('keeps consultants, skills and documents within their rules', async () => {
    expect(
      await countWhere(seeded, 'SELECT count(*) - count(DISTINCT email) AS count FROM consultants'),
    ).toBe(0);
    expect(
      await countWhere(
        seeded,
        `SELECT count(*) FROM consultants WHERE email !~ '^[a-z0-9-]+\\.[a-z0-9-]+\\.[0-9]+@consultator\\.fr$'
            OR updated_at < created_at OR updated_at > $1::timestamptz`,
        [REFERENCE_DAY],
      ),
    ).toBe(0);
    expect(
      await countWhere(
        seeded,
        'SELECT count(*) FROM consultant_skills WHERE level NOT BETWEEN 1 AND 5',
      ),
    ).toBe(0);
    expect(
      await countWhere(
        seeded,
        `SELECT count(*) FROM (SELECT consultant_id FROM consultant_skills GROUP BY consultant_id
                                HAVING count(*) NOT BETWEEN 3 AND 8) AS outliers`,
      ),
    ).toBe(0);
    expect(
      await countWhere(
        seeded,
        'SELECT count(*) FROM (SELECT name FROM skills GROUP BY name HAVING count(*) > 1) AS dupes',
      ),
    ).toBe(0);
    expect(
      await countWhere(
        seeded,
        `SELECT count(*) FROM documents
          WHERE size_bytes NOT BETWEEN 20 * 1024 AND 5 * 1024 * 1024 OR name !~ '\\.pdf$'`,
      ),
    ).toBe(0);
  });

  it('moves every id sequence past the copied ids', async () => {
    const client = await seeded.connect();
    try {
      await client.query('BEGIN');
      const inserted = async (sql: string) => Number((await client.query(sql)).rows[0]?.id);
      expect(
        await inserted(`INSERT INTO practices (name) VALUES ('Test practice') RETURNING id`),
      ).toBe(summary.counts.practices + 1);
      expect(
        await inserted(
          `INSERT INTO skills (name, category) VALUES ('Test skill', 'Test') RETURNING id`,
        ),
      ).toBe(summary.counts.skills + 1);
      expect(
        await inserted(
          `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate)
           VALUES ('Test', 'Test', 'test@example.org', 1, 'JUNIOR', 400) RETURNING id`,
        ),
      ).toBe(SMALL.consultants + 1);
      expect(
        await inserted(
          `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
           VALUES (1, 'Client', 'Title', '2026-02-01', 500, 'PLANNED') RETURNING id`,
        ),
      ).toBe(SMALL.missions + 1);
      expect(
        await inserted(
          `INSERT INTO documents (consultant_id, name, kind, size_bytes)
           VALUES (1, 'CV_Test_2026.pdf', 'CV', 30000) RETURNING id`,
        ),
      ).toBe(SMALL.documents + 1);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('refuses a database that already holds data', async () => {
    expect(await isDatabaseEmpty(seeded)).toBe(false);
    await expect(seedDemoData(seeded, SMALL)).rejects.toThrow(
      'database already holds data; seeding needs empty tables',
    );
    expect(await countWhere(seeded, 'SELECT count(*) FROM consultants')).toBe(SMALL.consultants);
  });

  it('leaves an empty database with its indexes when loading fails halfway', async () => {
    const pool = await freshPool();
    expect(await isDatabaseEmpty(pool)).toBe(true);
    const indexes = `SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'`;
    const indexesBefore = await countWhere(pool, indexes);

    await expect(
      seedDemoData(pool, {
        ...SMALL,
        onProgress: (message) => {
          if (message.startsWith('missions')) throw new Error('disk full (simulated)');
        },
      }),
    ).rejects.toThrow('disk full (simulated)');

    expect(await isDatabaseEmpty(pool)).toBe(true);
    expect(await countWhere(pool, 'SELECT count(*) FROM skills')).toBe(0);
    expect(await countWhere(pool, indexes)).toBe(indexesBefore);

    // The same database still takes a seed: nothing was left locked or broken.
    const scarce = await seedDemoData(pool, {
      consultants: 40,
      missions: 10,
      documents: 5,
      seed: 1,
    });
    expect(scarce.counts.missions).toBe(10);
    const staffed = await countWhere(
      pool,
      `SELECT count(*) FROM consultants WHERE availability = 'ON_MISSION'`,
    );
    // Fewer missions than the usual 70 %: only as many consultants are staffed.
    expect(staffed).toBeGreaterThan(0);
    expect(staffed).toBeLessThanOrEqual(10);
    expect(await countWhere(pool, `SELECT count(*) FROM missions WHERE status = 'ACTIVE'`)).toBe(
      staffed,
    );
  });

  it('rejects options it cannot honour before touching the database', async () => {
    await expect(seedDemoData(seeded, { ...SMALL, consultants: -1 })).rejects.toThrow(RangeError);
    await expect(
      seedDemoData(seeded, { consultants: 0, missions: 5, documents: 0, seed: 1 }),
    ).rejects.toThrow('missions and documents need at least one consultant');
  });
});
