import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangeDetector,
  type ChangeDetectorOptions,
  type ChangeEvent,
  createChangeDetector,
} from '../src/changes/change-detector.js';
import { backoffDelay, createNotifyListener } from '../src/changes/listener.js';
import { createChangePoller } from '../src/changes/poller.js';
import { CHANGE_TABLES, CHANGES_CHANNEL, checkChangeTriggers } from '../src/db/change-contract.js';
import { createPool, SqlStatementCounter } from '../src/db/client.js';
import type { Logger } from '../src/logger.js';
import {
  createTestDatabase,
  createTestPool,
  type TestDatabase,
  withAdminClient,
} from './support/database.js';
import { createDisposer, type Disposer, waitFor } from './support/dispose.js';

/* -------------------------------------------------------------------------- */
/* Helpers                                                                     */
/* -------------------------------------------------------------------------- */

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose lines land in an array, so tests can assert what operators see. */
function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { log, lines };
}

const WARN = 40;
const INFO = 30;

function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** A login role local to the run (roles are cluster-wide: dropped in cleanup). */
async function createRole(
  prefix: string,
  disposer: Disposer,
): Promise<{ name: string; password: string }> {
  const name = `${prefix}_${uniqueSuffix()}`;
  const password = `pw_${uniqueSuffix()}`;
  await withAdminClient((client) =>
    client.query(`CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN PASSWORD '${password}'`),
  );
  disposer.add(() =>
    withAdminClient(async (client) => {
      // Connections left by a failed test would block DROP ROLE.
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
        [name],
      );
      await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
    }),
  );
  return { name, password };
}

/** Runs `sql` on a short-lived connection: a backend publishes its table statistics when it exits. */
async function onFreshConnection<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ connectionString: url, application_name: 'cd-test-writer' });
  await client.connect();
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end();
  }
}

const INSERT_MISSION = `
  INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
  SELECT id, 'Change detection test', 'probe', current_date, 500, 'PLANNED'
  FROM consultants ORDER BY id LIMIT 1
  RETURNING id`;

interface DetectorHarness {
  detector: ChangeDetector;
  events: ChangeEvent[];
  counter: SqlStatementCounter;
  lines: LogLine[];
  applicationName: string;
  /** Events that mention `table`, optionally with a given reason. */
  eventsFor(table: (typeof CHANGE_TABLES)[number], reason?: ChangeEvent['reason']): ChangeEvent[];
  resyncs(): number;
}

/**
 * A detector on `database` with a counted pool of its own, like src/app.ts
 * would build it; stopped (and its pool ended) by `disposer`.
 */
async function startDetector(
  database: { url: string; listenerUrl?: string; poolUrl?: string },
  disposer: Disposer,
  overrides: Partial<ChangeDetectorOptions> = {},
): Promise<DetectorHarness> {
  const counter = new SqlStatementCounter();
  const { log, lines } = captureLogger();
  const pool = createPool({
    connectionString: database.poolUrl ?? database.url,
    max: 2,
    counter,
    applicationName: 'cd-test-detector-pool',
  });
  pool.on('error', () => {});
  const events: ChangeEvent[] = [];
  const applicationName = `cd-listener-${uniqueSuffix()}`;
  const detector = createChangeDetector({
    mode: 'notify',
    connectionString: database.listenerUrl ?? database.url,
    pool,
    counter,
    log,
    pollIntervalMs: 100,
    maxBackoffMs: 200,
    keepAliveMs: 5_000,
    listenerApplicationName: applicationName,
    onChange: (event) => events.push(event),
    ...overrides,
  });
  disposer.add(async () => {
    await detector.stop();
    await pool.end();
  });
  await detector.start();
  return {
    detector,
    events,
    counter,
    lines,
    applicationName,
    eventsFor: (table, reason) =>
      events.filter((event) => event.tables.has(table) && (!reason || event.reason === reason)),
    resyncs: () => events.filter((event) => event.reason === 'resync').length,
  };
}

async function backendsNamed(
  pool: pg.Pool,
  database: string,
  applicationName: string,
): Promise<{ pid: number; query: string }[]> {
  const { rows } = await pool.query<{ pid: number; query: string }>(
    'SELECT pid, query FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
    [database, applicationName],
  );
  return rows;
}

/** The listener's backend: one session, last statement its LISTEN. */
async function listenerPid(
  pool: pg.Pool,
  database: string,
  applicationName: string,
): Promise<number> {
  return waitFor(async () => {
    const rows = await backendsNamed(pool, database, applicationName);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.query).toMatch(/^LISTEN/i);
    return rows[0]?.pid;
  });
}

function activeResources(): { timeouts: number; sockets: number } {
  const info = process.getActiveResourcesInfo();
  return {
    timeouts: info.filter((kind) => kind === 'Timeout').length,
    sockets: info.filter((kind) => kind === 'TCPSocketWrap').length,
  };
}

/* -------------------------------------------------------------------------- */
/* Pure parts                                                                  */
/* -------------------------------------------------------------------------- */

describe('backoffDelay', () => {
  it('doubles from 100 ms up to the cap, with full jitter', () => {
    expect(backoffDelay(0, 10_000, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 10_000, () => 0.999)).toBe(799);
    expect(backoffDelay(30, 10_000, () => 0.999)).toBe(9_990);
    expect(backoffDelay(1_000, 10_000, () => 0.999)).toBe(9_990);
    expect(backoffDelay(5, 10_000, () => 0)).toBe(0);
  });
});

describe('createChangePoller', () => {
  it('warns once per failure streak, keeps polling, and reports changes after recovery', async () => {
    const { log, lines } = captureLogger();
    const base = Object.fromEntries(CHANGE_TABLES.map((table) => [table, '1'])) as Record<
      (typeof CHANGE_TABLES)[number],
      string
    >;
    let calls = 0;
    const changes: string[][] = [];
    const poller = createChangePoller({
      pool: {} as pg.Pool,
      intervalMs: 5,
      log,
      onChange: (tables) => changes.push([...tables]),
      readChecksum: async () => {
        calls += 1;
        if (calls === 1) return base;
        if (calls <= 4) throw new Error('database unreachable');
        return { ...base, skills: '2' };
      },
    });
    await poller.start();
    await waitFor(() => changes.length === 1);
    await poller.stop();
    const settled = calls;
    expect(changes).toEqual([['skills']]);
    expect(lines.filter((line) => line.level === WARN)).toHaveLength(1);
    expect(lines.some((line) => line.level === INFO && /works again/.test(line.msg))).toBe(true);
    // Stopped means stopped: no tick after stop().
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(settled);
  });
});

/* -------------------------------------------------------------------------- */
/* Against PostgreSQL                                                          */
/* -------------------------------------------------------------------------- */

describe('change detection (triggers installed)', () => {
  const cleanup = createDisposer();
  let database: TestDatabase;
  let sql: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    cleanup.add(() => database.drop());
    sql = createTestPool(database.url);
    cleanup.add(() => sql.end());
    expect((await checkChangeTriggers(sql)).ok).toBe(true);
  });
  afterAll(() => cleanup.run());

  it('notify mode: a manual NOTIFY and a committed INSERT reach onChange; a rollback does not', async () => {
    const disposer = createDisposer();
    try {
      const h = await startDetector(database, disposer, { mode: 'notify' });
      expect(h.detector.status).toMatchObject({
        mode: 'notify',
        activeSource: 'notify',
        listenerConnected: true,
        reconnects: 0,
        triggersInstalled: true,
      });
      // The first LISTEN is a resync: nothing was watched before.
      expect(h.events[0]).toEqual({ reason: 'resync', tables: new Set(CHANGE_TABLES) });

      await sql.query(`NOTIFY ${CHANGES_CHANNEL}, 'missions'`);
      await waitFor(() => h.eventsFor('missions', 'notify').length === 1);
      expect(h.eventsFor('missions', 'notify')[0]?.tables).toEqual(new Set(['missions']));

      await sql.query(INSERT_MISSION);
      await waitFor(() => h.eventsFor('missions', 'notify').length === 2);

      const client = await sql.connect();
      try {
        await client.query('BEGIN');
        await client.query(INSERT_MISSION);
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      // Notifications arrive in commit order: once this sentinel is in, a
      // notification from the rolled-back insert would have been too.
      await sql.query(`NOTIFY ${CHANGES_CHANNEL}, 'documents'`);
      await waitFor(() => h.eventsFor('documents', 'notify').length === 1);
      expect(h.eventsFor('missions', 'notify')).toHaveLength(2);
      // A payload outside the contract: assume anything changed (src/db/change-contract.ts).
      await sql.query(`NOTIFY ${CHANGES_CHANNEL}, 'no_such_table'`);
      await waitFor(() => h.events.at(-1)?.tables.size === CHANGE_TABLES.length);
      expect(h.events.at(-1)?.reason).toBe('notify');
    } finally {
      await disposer.run();
    }
  });

  it('notify mode: an idle server issues no SQL statement at all', async () => {
    const disposer = createDisposer();
    try {
      const seen: string[] = [];
      const h = await startDetector(database, disposer, { mode: 'notify' });
      // The listener's statements are counted too: its one LISTEN is there.
      expect(h.counter.total).toBeGreaterThan(0);
      const before = h.counter.total;
      const unobserve = h.counter.observe((text) => seen.push(text));
      // Asserting that nothing happens needs a period of nothing.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      unobserve();
      expect(seen).toEqual([]);
      expect(h.counter.total).toBe(before);
      expect(h.detector.status.activeSource).toBe('notify');
    } finally {
      await disposer.run();
    }
  });

  it('reconnects after its backend is terminated, resyncs, and delivers the next write', async () => {
    const disposer = createDisposer();
    try {
      const h = await startDetector(database, disposer, { mode: 'notify' });
      const pid = await listenerPid(sql, database.name, h.applicationName);
      expect(h.resyncs()).toBe(1);

      await sql.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor(() => h.detector.status.reconnects === 1, 10_000);
      expect(h.detector.status.listenerConnected).toBe(true);
      await waitFor(() => h.resyncs() === 2);
      const newPid = await listenerPid(sql, database.name, h.applicationName);
      expect(newPid).not.toBe(pid);
      expect(h.lines.some((line) => line.level === WARN && /connection lost/.test(line.msg))).toBe(
        true,
      );

      const before = h.eventsFor('missions', 'notify').length;
      await sql.query(INSERT_MISSION);
      await waitFor(() => h.eventsFor('missions', 'notify').length === before + 1);
    } finally {
      await disposer.run();
    }
  });

  it('stop() closes the connection and leaves no timer or socket behind', async () => {
    const disposer = createDisposer();
    // Opened before the baseline, so its own socket is counted there.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const baseline = activeResources();
      const counter = new SqlStatementCounter();
      const pool = createPool({ connectionString: database.url, max: 2, counter });
      const applicationName = `cd-listener-${uniqueSuffix()}`;
      const detector = createChangeDetector({
        mode: 'auto',
        connectionString: database.url,
        pool,
        counter,
        log: pino({ level: 'silent' }),
        pollIntervalMs: 100,
        maxBackoffMs: 200,
        keepAliveMs: 5_000,
        listenerApplicationName: applicationName,
        onChange: () => {},
      });
      const stopAll = disposer.add(async () => {
        await detector.stop();
        await pool.end();
      });
      await detector.start();
      expect(detector.status.activeSource).toBe('notify');
      const { rows } = await admin.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
        [database.name, applicationName],
      );
      expect(rows[0].n).toBe(1);

      await stopAll();
      expect(detector.status).toMatchObject({ activeSource: 'none', listenerConnected: false });
      // The backend exits a moment after the client's socket closes.
      await waitFor(async () => {
        const result = await admin.query(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
          [database.name, applicationName],
        );
        return result.rows[0].n === 0;
      });
      // pg-pool's end() resolves before its sockets have finished closing:
      // give them a moment. A leaked handle would stay open for good.
      await waitFor(() => {
        const after = activeResources();
        expect(after.timeouts).toBeLessThanOrEqual(baseline.timeouts);
        expect(after.sockets).toBeLessThanOrEqual(baseline.sockets);
        return true;
      }, 2_000);
    } finally {
      await disposer.run();
      await admin.end();
    }
  });

  it('stop() during a failing first connection attempt returns promptly', async () => {
    const counter = new SqlStatementCounter();
    const { log } = captureLogger();
    const listener = createNotifyListener({
      // Nobody listens on port 1: every attempt fails at once, and the loop backs off.
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      channel: CHANGES_CHANNEL,
      counter,
      log,
      maxBackoffMs: 50,
      keepAliveMs: 5_000,
      onNotification: () => {},
      onConnected: () => {},
      onDisconnected: () => {},
    });
    await listener.start();
    expect(listener.connected).toBe(false);
    // Let it retry a few times, then stop in the middle of whatever it is doing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await listener.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(listener.connected).toBe(false);
    expect(counter.total).toBe(0);
  });

  it('auto mode polls while the listener cannot connect, and goes back to notify', async () => {
    const disposer = createDisposer();
    try {
      // The listener connects as a role of its own, so that role alone can be locked out.
      const role = await createRole('cd_listen', disposer);
      const listenerUrl = withCredentials(database.url, role.name, role.password);
      const h = await startDetector({ url: database.url, listenerUrl }, disposer, { mode: 'auto' });
      expect(h.detector.status).toMatchObject({
        mode: 'auto',
        activeSource: 'notify',
        triggersInstalled: true,
      });
      const pid = await listenerPid(sql, database.name, h.applicationName);

      await sql.query(`ALTER ROLE ${pg.escapeIdentifier(role.name)} CONNECTION LIMIT 0`);
      disposer.add(async () => {
        await sql.query(`ALTER ROLE ${pg.escapeIdentifier(role.name)} CONNECTION LIMIT -1`);
      });
      await sql.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor(() => h.detector.status.activeSource === 'poll');
      expect(h.detector.status.listenerConnected).toBe(false);
      expect(
        h.lines.some(
          (line) =>
            line.level === WARN &&
            line.msg === 'change detection: listener down, polling every 100 ms',
        ),
      ).toBe(true);
      // Taking over from a lost listener starts with a resync (notifications were lost).
      await waitFor(() => h.resyncs() === 2);

      // The trigger's NOTIFY reaches nobody: the checksum has to see this one.
      await sql.query(INSERT_MISSION);
      await waitFor(() => h.eventsFor('missions', 'poll').length >= 1, 10_000);
      expect(h.eventsFor('missions', 'notify')).toHaveLength(0);
      // Still locked out: the listener keeps trying in the background.
      expect(h.detector.status.activeSource).toBe('poll');

      await sql.query(`ALTER ROLE ${pg.escapeIdentifier(role.name)} CONNECTION LIMIT -1`);
      await waitFor(() => h.detector.status.activeSource === 'notify', 10_000);
      expect(h.detector.status).toMatchObject({ listenerConnected: true, reconnects: 1 });
      await waitFor(() => h.resyncs() === 3);
      expect(
        h.lines.some(
          (line) =>
            line.level === INFO && line.msg === 'change detection: listener back, using notify',
        ),
      ).toBe(true);

      // Back on notify, the poller is idle again: no statement at all.
      const before = h.counter.total;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(h.counter.total).toBe(before);

      await sql.query(INSERT_MISSION);
      await waitFor(() => h.eventsFor('missions', 'notify').length === 1);
    } finally {
      await disposer.run();
    }
  });
});

describe('change detection without triggers (a role that cannot create them)', () => {
  const cleanup = createDisposer();
  let database: TestDatabase;
  let role: { name: string; password: string };
  let roleUrl: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    // LIFO: the database goes before the role that has privileges in it.
    role = await createRole('cd_poll', cleanup);
    cleanup.add(() => database.drop());
    roleUrl = withCredentials(database.url, role.name, role.password);
    const owner = new pg.Client({ connectionString: database.url });
    await owner.connect();
    try {
      const r = pg.escapeIdentifier(role.name);
      await owner.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
      await owner.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${r}`,
      );
      await owner.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
      // As if the migration could not install them: it is the checksum that must see writes.
      for (const table of CHANGE_TABLES) {
        await owner.query(`ALTER TABLE ${pg.escapeIdentifier(table)} DISABLE TRIGGER USER`);
      }
      const { rows } = await owner.query<{ trigger: boolean; owner: boolean }>(
        `SELECT has_table_privilege($1, 'missions', 'TRIGGER') AS trigger,
                pg_has_role($1, (SELECT relowner FROM pg_class WHERE oid = 'missions'::regclass), 'USAGE') AS owner`,
        [role.name],
      );
      expect(rows[0]).toEqual({ trigger: false, owner: false });
    } finally {
      await owner.end();
    }
  });
  afterAll(() => cleanup.run());

  it('poll mode sees an insert, an update and a delete made by that role', async () => {
    const disposer = createDisposer();
    try {
      const h = await startDetector({ url: roleUrl }, disposer, { mode: 'poll' });
      expect(h.detector.status).toMatchObject({
        mode: 'poll',
        activeSource: 'poll',
        listenerConnected: false,
        triggersInstalled: false,
      });
      // The baseline is a resync: whatever happened before it is unknown.
      await waitFor(() => h.resyncs() === 1);

      const inserted = await onFreshConnection<{ id: string }>(roleUrl, INSERT_MISSION);
      const id = inserted.rows[0]?.id;
      await waitFor(() => h.eventsFor('missions', 'poll').length === 1, 10_000);

      // Leaves updated_at alone: only the table's write counters can tell.
      await onFreshConnection(
        roleUrl,
        "UPDATE missions SET title = 'probe, updated' WHERE id = $1",
        [id],
      );
      await waitFor(() => h.eventsFor('missions', 'poll').length === 2, 10_000);

      await onFreshConnection(roleUrl, 'DELETE FROM missions WHERE id = $1', [id]);
      await waitFor(() => h.eventsFor('missions', 'poll').length === 3, 10_000);

      for (const event of h.eventsFor('missions', 'poll')) {
        expect(event.tables).toEqual(new Set(['missions']));
      }
      expect(h.events.filter((event) => event.reason === 'notify')).toEqual([]);
    } finally {
      await disposer.run();
    }
  });

  it('auto mode reports poll when the triggers are absent, and still sees writes', async () => {
    const disposer = createDisposer();
    try {
      const h = await startDetector({ url: roleUrl }, disposer, { mode: 'auto' });
      expect(h.detector.status).toMatchObject({
        mode: 'auto',
        activeSource: 'poll',
        listenerConnected: false,
        triggersInstalled: false,
      });
      expect(
        h.lines.some(
          (line) =>
            line.level === WARN &&
            line.msg === 'change detection: NOTIFY triggers not installed, polling every 100 ms',
        ),
      ).toBe(true);
      await waitFor(() => h.resyncs() === 1);
      await onFreshConnection(
        roleUrl,
        "UPDATE consultants SET last_name = last_name || '' WHERE id = (SELECT min(id) FROM consultants)",
      );
      await waitFor(() => h.eventsFor('consultants', 'poll').length === 1, 10_000);
    } finally {
      await disposer.run();
    }
  });

  it('the poller alone: first poll is the baseline, later polls report changed tables', async () => {
    const changes: string[][] = [];
    const { log } = captureLogger();
    const pool = createTestPool(roleUrl, { max: 1 });
    try {
      const poller = createChangePoller({
        pool,
        intervalMs: 60_000,
        log,
        onChange: (tables) => changes.push([...tables]),
      });
      expect(await poller.poll()).toEqual([]);
      expect(await poller.poll()).toEqual([]);
      await onFreshConnection(roleUrl, INSERT_MISSION);
      const changed = await waitFor(async () => {
        const tables = await poller.poll();
        return tables.length > 0 ? tables : null;
      });
      expect(changed).toEqual(['missions']);
      expect(changes).toEqual([['missions']]);
      await poller.stop();
    } finally {
      await pool.end();
    }
  });
});
