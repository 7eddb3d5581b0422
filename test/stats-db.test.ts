import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TaggedCache } from '../src/cache/tagged-cache.js';
import { readChangeChecksum } from '../src/changes/checksum.js';
import {
  CHANGES_CHANNEL,
  checkChangeTriggers,
  parseChangePayload,
} from '../src/db/change-contract.js';
import { migrationsFolder, runMigrations } from '../src/db/migrate.js';
import { StatsDeltaKind } from '../src/db/schema/stats.js';
import { createLogger } from '../src/logger.js';
import { createStatsComputer } from '../src/stats/computer.js';
import {
  type FoldOutcome,
  foldStats,
  foldStatsDeltas,
  readDashboardStats,
} from '../src/stats/fold.js';
import { rebuildStatsSummary, verifyStatsSummary } from '../src/stats/maintenance.js';
import { createStatsPublisher } from '../src/stats/publisher.js';
import {
  computeDashboardStatsFromScratch,
  type DashboardStatsSnapshot,
  readStatsVersion,
} from '../src/stats/snapshot.js';
import { createTestPool } from './support/database.js';
import { waitFor } from './support/dispose.js';

// --- Local database helper -------------------------------------------------
// A throwaway, unmigrated database on the run's server (test/support's
// global setup picks it): the backfill test needs one migrated only up to a
// given migration, which the shared templates cannot hand out.
const ADMIN_URL = inject('testDatabaseAdminUrl');

interface LocalDatabase {
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function createLocalDatabase(): Promise<LocalDatabase> {
  const name = `stats_test_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Applies the migrations before `stopBefore` only (to migrate an existing database later). */
async function migrateUpTo(url: string, stopBefore: string): Promise<void> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'stats-migrations-'));
  try {
    const journal = JSON.parse(
      await readFile(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8'),
    ) as { entries: { tag: string }[] };
    const stop = journal.entries.findIndex((entry) => entry.tag.endsWith(stopBefore));
    expect(stop).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, stop);
    await mkdir(path.join(folder, 'meta'));
    await writeFile(path.join(folder, 'meta/_journal.json'), JSON.stringify(journal));
    for (const entry of journal.entries) {
      await copyFile(
        path.join(migrationsFolder, `${entry.tag}.sql`),
        path.join(folder, `${entry.tag}.sql`),
      );
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: folder });
    } finally {
      await client.end();
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
// ---------------------------------------------------------------------------

/** The fixture: 3 practices (Security stays empty), 5 skills, 20 consultants, 40 missions. */
const FIXTURE_SQL = `
INSERT INTO practices (id, name) VALUES (1, 'Data'), (2, 'Cloud'), (3, 'Security');
INSERT INTO skills (id, name, category) VALUES
  (1, 'TypeScript', 'language'), (2, 'Go', 'language'), (3, 'Kubernetes', 'platform'),
  (4, 'PostgreSQL', 'data'), (5, 'Terraform', 'platform');
SELECT setval('practices_id_seq', 3), setval('skills_id_seq', 5);
INSERT INTO consultants (id, first_name, last_name, email, practice_id, grade, daily_rate, availability)
SELECT g, 'First' || g, 'Last' || g, 'c' || g || '@example.com', 1 + g % 2, 'SENIOR', 400 + g * 10,
  (ARRAY['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE']::availability[])[1 + g % 3]
FROM generate_series(1, 20) g;
SELECT setval('consultants_id_seq', 20);
INSERT INTO consultant_skills (consultant_id, skill_id, level)
SELECT c, s, 3 FROM generate_series(1, 20) c, generate_series(1, 5) s WHERE (c + s) % 3 <> 0;
INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
SELECT 1 + g % 20, 'Client ' || g, 'Mission ' || g, DATE '2024-01-01' + g, 500 + g,
  (ARRAY['PLANNED', 'ACTIVE', 'COMPLETED', 'CANCELLED']::mission_status[])[1 + g % 4]
FROM generate_series(1, 40) g;`;

function withoutTime(snapshot: DashboardStatsSnapshot): Omit<DashboardStatsSnapshot, 'computedAt'> {
  const { computedAt: _, ...rest } = snapshot;
  return rest;
}

interface Notification {
  channel: string;
  payload: string | undefined;
}

describe('live statistics in PostgreSQL', () => {
  let db: LocalDatabase;
  let pool: pg.Pool;
  let listener: pg.Client;
  const notifications: Notification[] = [];

  async function expectConsistent(): Promise<DashboardStatsSnapshot> {
    const incremental = await readDashboardStats(pool, { topSkills: 3 });
    const scratch = await computeDashboardStatsFromScratch(pool, { topSkills: 3 });
    expect(withoutTime(incremental)).toEqual(withoutTime(scratch));
    expect(await verifyStatsSummary(pool)).toEqual({ ok: true, differences: [] });
    return incremental;
  }

  /**
   * Notifications received in the 300 ms after `work` resolves (its commits
   * have happened by then). Notifications sent before it are drained first:
   * delivery is in commit order, so once a marker sent now has arrived,
   * everything committed earlier has too.
   */
  async function notificationsDuring(work: () => Promise<unknown>): Promise<string[]> {
    const marker = `test-sync-${randomBytes(4).toString('hex')}`;
    await pool.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, marker]);
    const deadline = Date.now() + 5_000;
    while (!notifications.some((n) => n.payload === marker)) {
      if (Date.now() > deadline) throw new Error('the listener missed a notification');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    notifications.length = 0;
    await work();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return notifications.map((n) => String(n.payload)).sort();
  }

  async function transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Folds everything and closes any window (as its owner would): the next
   * writer then notifies rather than relying on a coming fold.
   */
  async function settle(): Promise<void> {
    await pool.query(
      `UPDATE stats_state SET refold_expected_until = clock_timestamp() - interval '1 ms'`,
    );
    for (let i = 0; i < 10; i += 1) {
      if ((await foldStatsDeltas(pool)).deltas === 0) return;
    }
    throw new Error('deltas keep coming');
  }

  const insertMission = (consultantId: number, title: string) =>
    `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
     VALUES (${consultantId}, 'Wake', '${title}', '2025-06-01', 700, 'ACTIVE')`;

  beforeAll(async () => {
    db = await createLocalDatabase();
    await runMigrations(db.url);
    pool = createTestPool(db.url, { max: 12 });
    await pool.query(FIXTURE_SQL);
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (n) =>
      notifications.push({ channel: n.channel, payload: n.payload }),
    );
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
  });

  afterAll(async () => {
    await listener?.end();
    await pool?.end();
    await db?.drop();
  });

  it('installs every change trigger', async () => {
    expect(await checkChangeTriggers(pool)).toEqual({ ok: true, missing: [] });
  });

  it('matches a full recompute after the fixture load', async () => {
    const stats = await expectConsistent();
    expect(stats.consultants.total).toBe(20);
    expect(stats.practices.map((p) => p.name)).toEqual(['Cloud', 'Data', 'Security']);
    expect(stats.practices[2]).toMatchObject({ consultants: 0, averageDailyRate: null });
    expect(stats.missions.total).toBe(40);
    expect(stats.topSkills).toHaveLength(3);
    expect(await pool.query('SELECT count(*)::int AS n FROM stats_deltas')).toMatchObject({
      rows: [{ n: 0 }],
    });
  });

  it('follows updates that move consultants between groups', async () => {
    const before = await readDashboardStats(pool);
    await pool.query(
      `UPDATE consultants SET availability = 'ON_MISSION', practice_id = 3, daily_rate = daily_rate + 1
       WHERE id IN (1, 2, 3)`,
    );
    await pool.query(
      `UPDATE missions SET status = 'COMPLETED' WHERE status = 'ACTIVE' AND id < 20`,
    );
    await pool.query(
      'UPDATE consultant_skills SET skill_id = 5 WHERE consultant_id = 4 AND skill_id = 1',
    );
    const after = await expectConsistent();
    expect(BigInt(after.version)).toBeGreaterThan(BigInt(before.version));
    expect(after.practices.find((p) => p.name === 'Security')?.consultants).toBe(3);
  });

  it('bumps the version only when an aggregate changes', async () => {
    const v0 = (await readDashboardStats(pool)).version;
    await settle();
    expect(
      await notificationsDuring(() => pool.query(`UPDATE consultants SET first_name = 'Renamed'`)),
    ).toEqual(['consultants']);
    expect(await pool.query('SELECT count(*)::int AS n FROM stats_deltas')).toMatchObject({
      rows: [{ n: 0 }],
    });
    expect((await readDashboardStats(pool)).version).toBe(v0);

    // Two writes that cancel out between folds leave the version alone too.
    await pool.query(`UPDATE consultants SET availability = 'UNAVAILABLE' WHERE id = 12`);
    const v1 = (await readDashboardStats(pool)).version;
    expect(BigInt(v1)).toBe(BigInt(v0) + 1n);
    await pool.query(`UPDATE consultants SET availability = 'AVAILABLE' WHERE id = 12`);
    await pool.query(`UPDATE consultants SET availability = 'UNAVAILABLE' WHERE id = 12`);
    expect((await foldStatsDeltas(pool)).changed).toBe(false);
    expect(await readStatsVersion(pool)).toBe(v1);

    // A statement that matches nothing neither appends nor notifies.
    await settle();
    expect(
      await notificationsDuring(() => pool.query('UPDATE missions SET title = title WHERE false')),
    ).toEqual([]);
  });

  it('follows cascaded deletes, INSERT … SELECT and COPY', async () => {
    await pool.query('DELETE FROM consultants WHERE id IN (6, 7)');
    await expectConsistent();

    await pool.query(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
       SELECT 'Bulk', 'Load' || g, 'bulk' || g || '@example.com', 1 + g % 3, 'JUNIOR', 300 + g, 'AVAILABLE'
       FROM generate_series(1, 50) g`,
    );
    await pool.query(
      `INSERT INTO consultant_skills (consultant_id, skill_id, level)
       SELECT id, 4, 2 FROM consultants WHERE first_name = 'Bulk'`,
    );
    await expectConsistent();

    const client = await pool.connect();
    try {
      const rows = Array.from(
        { length: 200 },
        (_, i) => `${8 + (i % 10)}\tCopied\tCopy ${i}\t2025-02-01\t\\N\t${600 + i}\tACTIVE\n`,
      ).join('');
      const stream = client.query(
        copyFrom(
          'COPY missions (consultant_id, client, title, start_date, end_date, daily_rate, status) FROM STDIN',
        ),
      );
      await pipeline(async function* () {
        yield rows;
      }, stream);
    } finally {
      client.release();
    }
    // One statement, one firing: the 200 rows arrive as a single grouped delta.
    expect(
      await pool.query(`SELECT count(*)::int AS n FROM stats_deltas WHERE kind = 2`),
    ).toMatchObject({ rows: [{ n: 1 }] });
    const stats = await expectConsistent();
    expect(stats.missions.total).toBeGreaterThan(200);
  });

  it('follows TRUNCATE … CASCADE', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE saved_missions AS SELECT * FROM missions');
      await client.query('TRUNCATE missions');
      await client.query('COMMIT');
      await expectConsistent();
      await client.query('INSERT INTO missions SELECT * FROM saved_missions');
      await client.query('DROP TABLE saved_missions');
    } finally {
      client.release();
    }
    await expectConsistent();
  });

  it('versions practice and skill renames and lists every practice', async () => {
    const v0 = (await readDashboardStats(pool)).version;
    await pool.query(`UPDATE practices SET name = 'Artificial Intelligence' WHERE id = 3`);
    await pool.query(`INSERT INTO practices (name) VALUES ('Zero')`);
    const stats = await expectConsistent();
    expect(BigInt(stats.version)).toBe(BigInt(v0) + 1n);
    expect(stats.practices.map((p) => p.name)).toEqual([
      'Artificial Intelligence',
      'Cloud',
      'Data',
      'Zero',
    ]);
    await pool.query(`DELETE FROM practices WHERE name = 'Zero'`);
    await expectConsistent();
  });

  it('leaves neither delta nor notification behind a rollback', async () => {
    await settle();
    const deltasBefore = (await pool.query('SELECT count(*)::int AS n FROM stats_deltas')).rows[0];
    const received = await notificationsDuring(async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`UPDATE consultants SET availability = 'UNAVAILABLE'`);
        await client.query(
          `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
           VALUES (8, 'x', 'y', '2025-01-01', 700, 'ACTIVE')`,
        );
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
    });
    expect(received).toEqual([]);
    expect((await pool.query('SELECT count(*)::int AS n FROM stats_deltas')).rows[0]).toEqual(
      deltasBefore,
    );
    await expectConsistent();
  });

  it('sends one notification per table per transaction, even for 500 statements', async () => {
    await settle();
    const received = await notificationsDuring(() =>
      transaction(async (client) => {
        for (let i = 0; i < 500; i += 1) {
          await client.query(
            `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
             VALUES ($1, 'Many', $2, '2025-03-01', 650, 'PLANNED')`,
            [8 + (i % 10), `Row ${i}`],
          );
        }
        await client.query(`UPDATE consultants SET last_name = 'Touched' WHERE id = 8`);
        await client.query(
          `INSERT INTO documents (consultant_id, name, kind, size_bytes) VALUES (8, 'cv.pdf', 'CV', 1000)`,
        );
        await client.query(`UPDATE skills SET category = 'languages' WHERE id = 1`);
      }),
    );
    expect(received).toEqual(['consultants', 'documents', 'missions', 'skills']);
    expect(received.map(parseChangePayload)).not.toContain(null);
    // …and 500 statements leave 500 delta rows to fold, not more.
    expect(
      (await pool.query('SELECT count(*)::int AS n FROM stats_deltas WHERE kind = 2')).rows[0],
    ).toEqual({ n: 500 });
    await expectConsistent();
  });

  describe('wake-ups', () => {
    /** A fold as API instance `a` runs it in a burst: it keeps writers silent. */
    const burstFold = () => foldStats(pool, { snapshot: false, instance: 'a', keepWindow: true });

    it('folds a quiet write without opening a window: the next writer notifies', async () => {
      await settle();
      expect(await notificationsDuring(() => pool.query(insertMission(8, 'quiet')))).toEqual([
        'missions',
      ]);
      let outcome: FoldOutcome | undefined;
      const announced = await notificationsDuring(async () => {
        outcome = await foldStats(pool, { instance: 'a', keepWindow: false });
      });
      // One announcement, with the version whose snapshot is now published…
      expect(announced).toEqual([`folded:${outcome?.version}:missions`]);
      expect(outcome?.windowOpen).toBe(false);
      expect(outcome?.pending).toBeNull();
      // …and no promise of another fold, so the next writer notifies.
      expect(await notificationsDuring(() => pool.query(insertMission(8, 'next')))).toEqual([
        'missions',
      ]);
      await expectConsistent();
    });

    it('keeps writers silent while a fold is due; the fold announces their tables', async () => {
      await settle();
      expect(await notificationsDuring(() => pool.query(insertMission(8, 'first')))).toEqual([
        'missions',
      ]);
      // A fold in a burst opens the window: its instance promises another fold.
      let first: FoldOutcome | undefined;
      const announced = await notificationsDuring(async () => {
        first = await burstFold();
      });
      expect(announced).toEqual([`folded:${first?.version}:missions:window`]);
      expect(first?.windowOpen).toBe(true);
      // So writers stay silent.
      expect(
        await notificationsDuring(() =>
          transaction(async (client) => {
            await client.query(insertMission(9, 'silent'));
            await client.query(`UPDATE consultants SET last_name = 'Silent' WHERE id = 9`);
          }),
        ),
      ).toEqual([]);
      // A touch row stands for the update that moved no aggregate.
      expect(
        (await pool.query('SELECT kind, count_delta::int FROM stats_deltas ORDER BY id')).rows,
      ).toEqual([
        { kind: 2, count_delta: 1 },
        { kind: 1, count_delta: 0 },
      ]);
      // The promised fold announces their tables; the window stays open while it consumes.
      let next: FoldOutcome | undefined;
      expect(
        await notificationsDuring(async () => {
          next = await burstFold();
        }),
      ).toEqual([`folded:${next?.version}:consultants,missions:window`]);
      expect(next?.changed).toBe(true);
      // The fold that finds nothing closes the window and looks for silent writers.
      const last = await burstFold();
      expect(last.windowOpen).toBe(false);
      expect(last.pending).toEqual({ young: [], old: [], leftover: [] });
      expect(await notificationsDuring(() => pool.query(insertMission(9, 'loud')))).toEqual([
        'missions',
      ]);
      await expectConsistent();
    });

    it("leaves another instance's window alone until it expires", async () => {
      await settle();
      await pool.query(insertMission(10, 'primer'));
      expect((await burstFold()).windowOpen).toBe(true);
      // Instance b, and a one-off fold, find nothing and do not close a's window.
      const b = await foldStats(pool, { snapshot: false, instance: 'b', keepWindow: true });
      expect(b).toMatchObject({ deltas: 0, windowOpen: false, pending: null });
      expect((await foldStatsDeltas(pool)).woken).toEqual([]);
      expect(await notificationsDuring(() => pool.query(insertMission(10, 'silent')))).toEqual([]);
      // a's follow-up consumes and closes (not in a burst any more).
      const closing = await foldStats(pool, { snapshot: false, instance: 'a' });
      expect(closing).toMatchObject({ deltas: 1, windowOpen: false });
      expect(closing.pending).toEqual({ young: [], old: [], leftover: [] });
      await expectConsistent();
    });

    it('finds a silent writer the closing fold missed, and folds it on the follow-up', async () => {
      await settle();
      await pool.query(insertMission(10, 'primer'));
      await burstFold(); // consumed: the window is open, writers go silent
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(insertMission(10, 'in flight'));
        // The fold cannot see the uncommitted delta, but it sees the marker.
        const during = await foldStats(pool, { snapshot: false, instance: 'a' });
        expect(during.deltas).toBe(0);
        expect(during.pending?.young).toEqual(['missions']);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      // Committed after that look: the follow-up folds it, and looks again.
      const after = await foldStats(pool, { snapshot: false, instance: 'a', checkPending: true });
      expect(after.tables).toEqual(['missions']);
      expect(after.changed).toBe(true);
      expect(after.pending).toEqual({ young: [], old: [], leftover: [] });
      await expectConsistent();
    });

    it('wakes for an idle-in-transaction writer at most once a second', async () => {
      await settle();
      await pool.query(insertMission(11, 'primer'));
      await burstFold();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(insertMission(11, 'long'));
        // Ages the writer's transaction past a second: what makes it "old".
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        // As if instance a had died: its window expired, and one-off folds close it and wake.
        await pool.query(
          `UPDATE stats_state SET refold_expected_until = clock_timestamp() - interval '1 ms'`,
        );
        const woken = [];
        for (let i = 0; i < 5; i += 1) {
          woken.push(
            (await foldStats(pool, { snapshot: false, checkPending: true })).pending?.old ?? [],
          );
        }
        expect(woken.filter((tables) => tables.length > 0)).toEqual([['missions']]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      expect((await foldStatsDeltas(pool)).tables).toEqual(['missions']);
      await expectConsistent();
    });

    it('makes writers notify again when folds stop', async () => {
      await settle();
      await pool.query(insertMission(12, 'primer'));
      await burstFold();
      expect(await notificationsDuring(() => pool.query(insertMission(12, 'silent')))).toEqual([]);
      // As if the API had died right after that fold, 2 s ago.
      await pool.query(
        `UPDATE stats_state SET refold_expected_until = clock_timestamp() - interval '1 ms'`,
      );
      expect(await notificationsDuring(() => pool.query(insertMission(12, 'loud')))).toEqual([
        'missions',
      ]);
      // The next fold, whoever runs it, closes the expired window and looks for silent writers.
      const next = await foldStatsDeltas(pool);
      expect(next.tables).toEqual(['missions']);
      expect(next.woken).toEqual([]);
      await expectConsistent();
    });

    it('loses nothing when the API folds only on notifications and its own follow-ups', async () => {
      // The server's loop: the stats publisher and computer as the app runs
      // them, fed by a listener, with a short coalescing window.
      const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const consumer = new pg.Client({ connectionString: db.url });
      await consumer.connect();
      const computer = createStatsComputer({
        pool,
        triggersInstalled: () => true,
        coalesceMs: 20,
        instanceId: 'consumer',
      });
      const cache = new TaggedCache<DashboardStatsSnapshot>({
        name: 'stats',
        ttlMs: 60_000,
        maxEntries: 10,
      });
      const publisher = createStatsPublisher<DashboardStatsSnapshot>({
        compute: computer.compute,
        readPublished: computer.readPublished,
        cache,
        coalesceMs: 20,
        log: createLogger('silent'),
      });
      consumer.on('notification', (message) => {
        const notice = parseChangePayload(message.payload ?? '');
        if (notice?.kind === 'table') {
          cache.invalidate([notice.table]);
          publisher.tablesChanged([notice.table]);
        } else if (notice?.kind === 'folded') {
          publisher.published(notice.version, { windowOpen: notice.windowOpen });
        }
      });
      await consumer.query(`LISTEN ${CHANGES_CHANNEL}`);
      const writers = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const client = new pg.Client({ connectionString: db.url });
          await client.connect();
          return client;
        }),
      );
      const write = async (client: pg.Client, w: number, episode: number) => {
        for (let i = 0; i < 5; i += 1) {
          const n = episode * 5 + i;
          await client.query('BEGIN');
          await client.query(insertMission(8 + ((w + n) % 10), `consumer w${w} n${n}`));
          if (n % 4 === 0) {
            await client.query('UPDATE consultants SET availability = $1 WHERE id = $2', [
              ['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE'][(w + n) % 3],
              8 + (n % 10),
            ]);
          }
          if (n % 7 === 0) {
            await client.query(
              `INSERT INTO consultant_skills (consultant_id, skill_id, level) VALUES ($1, 5, 1)
               ON CONFLICT DO NOTHING`,
              [8 + (w % 10)],
            );
          }
          // Transactions that stay open across folds, and lulls in which
          // folds find nothing: where a missed wake-up would show.
          await pause(Math.random() * 30);
          await client.query(n % 9 === 0 ? 'ROLLBACK' : 'COMMIT');
          await pause(Math.random() * 30);
        }
      };
      try {
        await settle();
        // Each episode ends with writes nobody announces but the API's own
        // follow-ups: a lost wake-up leaves deltas that nothing will fold.
        for (let episode = 0; episode < 8; episode += 1) {
          await Promise.all(writers.map((client, w) => write(client, w, episode)));
          await waitFor(async () => {
            const { rows } = await pool.query(
              `SELECT (SELECT count(*) FROM stats_deltas)::int AS deltas,
                 (SELECT refold_expected_until IS NULL FROM stats_state) AS closed`,
            );
            return rows[0].deltas === 0 && rows[0].closed;
          }, 10_000);
        }
        expect(publisher.metrics.failures).toBe(0);
        await expectConsistent();
      } finally {
        await publisher.stop();
        await consumer.end();
        await Promise.all(writers.map((client) => client.end()));
      }
    }, 60_000);
  });

  it('stays exact with 8 concurrent writers and concurrent folders', async () => {
    let writing = true;
    let folds = 0;
    const folder = async () => {
      while (writing) {
        await foldStatsDeltas(pool);
        folds += 1;
      }
    };
    const writer = async (w: number) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        for (let i = 0; i < 50; i += 1) {
          await client.query('BEGIN');
          if (i % 5 === 4) {
            await client.query(`UPDATE consultants SET availability = $1 WHERE id = $2`, [
              ['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE'][i % 3],
              8 + ((w + i) % 10),
            ]);
          } else {
            await client.query(
              `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
               VALUES ($1, 'Concurrent', $2, '2025-04-01', $3, 'ACTIVE')`,
              [8 + (i % 10), `w${w} i${i}`, 500 + w * 10 + i],
            );
          }
          await client.query('COMMIT');
        }
      } finally {
        await client.end();
      }
    };
    const folders = [folder(), folder()];
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    writing = false;
    await Promise.all(folders);
    expect(folds).toBeGreaterThan(2);
    const stats = await expectConsistent();
    expect(
      (await pool.query(`SELECT count(*)::int AS n FROM missions WHERE client = 'Concurrent'`))
        .rows[0],
    ).toEqual({ n: 8 * 40 });
    expect(stats.missions.active).toBeGreaterThanOrEqual(320);
  }, 60_000);

  it('folds and reads in one statement, from the summary tables, never the base tables', async () => {
    // Records each statement readDashboardStats sends.
    const statements: string[] = [];
    class RecordingClient extends pg.Client {
      // biome-ignore lint/suspicious/noExplicitAny: forwards pg's query overloads unchanged.
      override query(...args: any[]): any {
        if (typeof args[0] === 'string') statements.push(args[0]);
        // biome-ignore lint/suspicious/noExplicitAny: see above.
        return (super.query as any)(...args);
      }
    }
    const client = new RecordingClient({ connectionString: db.url });
    await client.connect();
    try {
      await settle();
      await pool.query(`UPDATE consultants SET availability = 'ON_MISSION' WHERE id = 9`);
      // In a transaction only to read its own table-access counters afterwards.
      await client.query('BEGIN');
      statements.length = 0;
      const snapshot = await readDashboardStats(client, { topSkills: 5 });
      expect(statements).toHaveLength(1);
      const { rows }: { rows: { relname: string; scans: string }[] } = await client.query(
        `SELECT relname, (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS scans
         FROM pg_stat_xact_user_tables`,
      );
      await client.query('COMMIT');
      const scanned = new Set(rows.filter((row) => row.scans !== '0').map((row) => row.relname));
      for (const base of ['consultants', 'missions', 'consultant_skills', 'documents']) {
        expect(scanned).not.toContain(base);
      }
      expect(scanned).toContain('stats_deltas');
      expect(scanned).toContain('stats_consultant_groups');
      expect(snapshot.topSkills).toHaveLength(5);
    } finally {
      await client.end();
    }
  });

  it('defines each delta kind once: the SQL mapping, the TS constant and the triggers agree', async () => {
    const { rows } = await pool.query<{ kind: number; table_name: string }>(
      'SELECT kind, table_name FROM stats_delta_kinds ORDER BY kind',
    );
    expect(Object.fromEntries(rows.map((row) => [row.table_name, row.kind]))).toEqual(
      StatsDeltaKind,
    );
    // What each table's trigger writes, inside a transaction that rolls back.
    const writes: Record<keyof typeof StatsDeltaKind, string> = {
      consultants: `UPDATE consultants SET daily_rate = daily_rate + 1 WHERE id = 1`,
      missions: insertMission(1, 'kind'),
      consultant_skills: `DELETE FROM consultant_skills WHERE consultant_id = 1 AND skill_id = 1`,
      practices: `UPDATE practices SET name = name || '!' WHERE id = 1`,
      skills: `UPDATE skills SET name = name || '!' WHERE id = 1`,
    };
    for (const [table, kind] of Object.entries(StatsDeltaKind)) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('DELETE FROM stats_deltas');
        const before = await client.query('SELECT count(*)::int AS n FROM stats_deltas');
        expect(before.rows[0]).toEqual({ n: 0 });
        await client.query(writes[table as keyof typeof StatsDeltaKind]);
        const written = await client.query<{ kind: number }>(
          'SELECT DISTINCT kind FROM stats_deltas',
        );
        expect(
          written.rows.map((row) => row.kind),
          table,
        ).toEqual([kind]);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    }
  });

  it('reports drift and rebuilds without stopping writers', async () => {
    await foldStatsDeltas(pool);
    await pool.query(
      `UPDATE stats_consultant_groups SET consultants = consultants + 5
       WHERE (practice_id, availability) = (SELECT practice_id, availability FROM stats_consultant_groups LIMIT 1)`,
    );
    await pool.query('DELETE FROM stats_skill_groups WHERE skill_id = 2');
    const drift = await verifyStatsSummary(pool);
    expect(drift.ok).toBe(false);
    expect(drift.differences).toHaveLength(2);
    expect(drift.differences.join('\n')).toMatch(/^consultant group .*\nskill group \(skill 2\)/);

    const before = await readStatsVersion(pool);
    // Writers keep going while the rebuild runs; their deltas land on top of it.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        await pool.query(
          `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
           VALUES (10, 'During rebuild', $1, '2025-05-01', 800, 'PLANNED')`,
          [`r${n}`],
        );
        n += 1;
      }
      return n;
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const rebuilt = await rebuildStatsSummary(pool);
    await new Promise((resolve) => setTimeout(resolve, 50));
    writing = false;
    expect(await writer).toBeGreaterThan(0);
    expect(BigInt(rebuilt.version)).toBeGreaterThan(BigInt(before));
    await expectConsistent();
  });

  it('reports disabled triggers', async () => {
    await pool.query('ALTER TABLE documents DISABLE TRIGGER documents_changes_ins');
    try {
      expect(await checkChangeTriggers(pool)).toEqual({
        ok: false,
        missing: ['documents_changes_ins'],
      });
      expect((await verifyStatsSummary(pool)).differences).toEqual([
        'change trigger documents_changes_ins is missing or disabled',
      ]);
    } finally {
      await pool.query('ALTER TABLE documents ENABLE TRIGGER documents_changes_ins');
    }
  });

  it('changes the poll checksum after inserts, updates and deletes', async () => {
    // Statistics counters are published when a backend goes idle, at most
    // once a second, and always when it exits: each write uses a fresh
    // connection so the test does not have to wait out the 10 s idle timer.
    const write = async (sql: string) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(sql);
      await client.end();
    };
    const changedAfter = async (
      sql: string,
      table: keyof Awaited<ReturnType<typeof readChangeChecksum>>,
    ) => {
      const before = await readChangeChecksum(pool);
      await write(sql);
      const deadline = Date.now() + 5_000;
      for (;;) {
        const after = await readChangeChecksum(pool);
        if (after[table] !== before[table]) return;
        if (Date.now() > deadline)
          throw new Error(`checksum of ${table} did not change after: ${sql}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await changedAfter(
      `INSERT INTO documents (consultant_id, name, kind, size_bytes) VALUES (9, 'a', 'CV', 1)`,
      'documents',
    );
    await changedAfter(`UPDATE documents SET size_bytes = size_bytes + 1`, 'documents');
    await changedAfter(`DELETE FROM documents`, 'documents');
    // An update that leaves updated_at alone is still seen.
    await changedAfter(`UPDATE missions SET title = title || '!' WHERE id = 1`, 'missions');
    await changedAfter(
      `DELETE FROM consultant_skills WHERE consultant_id = 9`,
      'consultant_skills',
    );
    await changedAfter(`TRUNCATE documents`, 'documents');
  });

  it('backfills the summary when migrating a database that already has data', async () => {
    const other = await createLocalDatabase();
    try {
      await migrateUpTo(other.url, 'stats_triggers');
      const client = new pg.Client({ connectionString: other.url });
      await client.connect();
      try {
        await client.query(FIXTURE_SQL);
        expect(await checkChangeTriggers(client)).toMatchObject({ ok: false });
      } finally {
        await client.end();
      }
      await runMigrations(other.url);
      const otherPool = createTestPool(other.url);
      try {
        const incremental = await readDashboardStats(otherPool);
        const scratch = await computeDashboardStatsFromScratch(otherPool);
        expect(withoutTime(incremental)).toEqual(withoutTime(scratch));
        expect(incremental.version).toBe('1');
        expect(incremental.consultants.total).toBe(20);
        expect(await verifyStatsSummary(otherPool)).toEqual({ ok: true, differences: [] });
      } finally {
        await otherPool.end();
      }
    } finally {
      await other.drop();
    }
  });
});
