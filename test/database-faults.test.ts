import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createDatabase,
  createPool,
  handleConnectionErrors,
  inTransaction,
  SqlStatementCounter,
} from '../src/db/client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded.js';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterEach();

/** A client of the test's own on the server's database, for locks and sabotage. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'consultator-test' });
  // The tests terminate backends on purpose; a dead connection must not crash the run.
  client.on('error', () => {});
  await client.connect();
  dispose.add(() => client.end().catch(() => {}));
  return client;
}

/** Holds an exclusive lock on `practices`, so the next request reading it waits in the database. */
async function lockPractices(server: TestServer) {
  const client = await connect(server.databaseUrl);
  await client.query('BEGIN');
  await client.query('LOCK TABLE practices IN ACCESS EXCLUSIVE MODE');
  const waitingBackends = async () =>
    (
      await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND application_name = 'consultator-graphql'`,
      )
    ).rows.map((row) => row.pid);
  return { client, waitingBackends, release: () => client.query('ROLLBACK') };
}

function expectMasked(result: Awaited<ReturnType<TestServer['query']>>) {
  const error = expectOneError(result);
  expect(error).toMatchObject({
    message: 'Unexpected error.',
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
  // Neither SQL, nor a driver message, nor a stack reaches the client.
  for (const leak of [
    'select ',
    ' from ',
    'terminat',
    'timeout',
    'cancel',
    'econnrefused',
    'stack',
  ]) {
    expect(result.text.toLowerCase()).not.toContain(leak);
  }
}

const PRACTICES = '{ practices { name } }';
const OUTAGE_MS = 10_000;

describe('database faults on a running API', () => {
  it('a pool backend terminated mid-query: the request gets a masked error, the next one is served', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const lock = await lockPractices(server);
    const pending = server.query(PRACTICES);
    const [pid] = await waitFor(async () => {
      const pids = await lock.waitingBackends();
      return pids.length > 0 ? pids : null;
    }, 10_000);
    await lock.client.query('SELECT pg_terminate_backend($1)', [pid]);
    expectMasked(await pending);

    await lock.release();
    expect(expectData(await server.query(PRACTICES)).practices.length).toBeGreaterThan(0);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it('DATABASE_STATEMENT_TIMEOUT_MS ends a statement that runs too long, masked for the client', async () => {
    const server = await startTestServer(
      { DATABASE_STATEMENT_TIMEOUT_MS: '300' },
      { disposer: dispose },
    );
    const lock = await lockPractices(server);
    expectMasked(await server.query(PRACTICES));
    await lock.release();
    expectData(await server.query(PRACTICES));
  });

  it('the pool sets statement_timeout and idle_in_transaction_session_timeout on its sessions', async () => {
    const server = await startTestServer(
      { DATABASE_STATEMENT_TIMEOUT_MS: '4321', DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '5432' },
      { disposer: dispose },
    );
    const { rows } = await (server.app.pool as pg.Pool).query<{ statement: string; idle: string }>(
      `SELECT current_setting('statement_timeout') AS statement,
              current_setting('idle_in_transaction_session_timeout') AS idle`,
    );
    expect(rows[0]).toEqual({ statement: '4321ms', idle: '5432ms' });
  });
});

describe('slow statement warnings', () => {
  it('reports statements slower than SLOW_QUERY_MS, by text only, never their parameters', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const slow: { statement: string; ms: number }[] = [];
    const pool = createPool({
      connectionString: server.databaseUrl,
      max: 1,
      counter: new SqlStatementCounter(),
      slowQueryMs: 100,
      onSlowQuery: (report) => slow.push(report),
    });
    pool.on('error', () => {});
    dispose.add(() => pool.end());
    await pool.query('SELECT $1::text AS secret', ['hunter2']);
    await pool.query('SELECT pg_sleep(0.2), $1::text AS secret', ['hunter2']);
    // Fails at run time, after the sleep.
    await expect(
      pool.query('SELECT 1 / (count(*) - count(*)) FROM (SELECT pg_sleep(0.2)) AS slow'),
    ).rejects.toThrow(/division by zero/);
    expect(slow.map((report) => report.statement)).toEqual([
      'SELECT pg_sleep(0.2), $1::text AS secret',
      'SELECT 1 / (count(*) - count(*)) FROM (SELECT pg_sleep(0.2)) AS slow',
    ]);
    expect(slow.every((report) => report.ms >= 100)).toBe(true);
    expect(JSON.stringify(slow)).not.toContain('hunter2');
  });
});

describe('PostgreSQL stopped and restarted under a running API', () => {
  it('stays up, answers masked errors and /ready 503, then recovers and resyncs subscribers', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'consultator-outage-'));
    dispose.add(() => rm(dataDir, { recursive: true, force: true }));
    const startCluster = (port: number) =>
      startEmbeddedPostgres({ dataDir, port, database: 'outage' });
    let cluster: EmbeddedPostgres = await startCluster(0);
    dispose.add(() => cluster.stop());
    const port = cluster.port;

    const server = await startTestServer(
      { LISTENER_MAX_BACKOFF_MS: '1000', DATABASE_CONNECT_TIMEOUT_MS: '2000' },
      { disposer: dispose, database: cluster.url },
    );
    const pushes: { version: string; consultants: { total: number } }[] = [];
    const errors: unknown[] = [];
    const client = createClient({
      url: server.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    dispose.add(() => client.dispose());
    client.subscribe<{ statsChanged: (typeof pushes)[number] }>(
      { query: 'subscription { statsChanged { version consultants { total } } }' },
      {
        next: (result) => {
          if (result.data) pushes.push(result.data.statsChanged);
          if (result.errors) errors.push(result.errors);
        },
        error: (error) => errors.push(error),
        complete: () => {},
      },
    );
    await waitFor(() => pushes.length === 1, 10_000);
    expect(pushes[0]?.consultants.total).toBe(0);

    await cluster.stop();
    await waitFor(async () => (await fetch(`${server.url}/ready`)).status === 503, 15_000);
    server.clearCaches();
    expectMasked(await server.query(PRACTICES));
    // The outage itself (a scenario duration, not a wait for anything): the process keeps answering.
    const outageEnds = Date.now() + OUTAGE_MS;
    while (Date.now() < outageEnds) {
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect((await fetch(`${server.url}/ready`)).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expectMasked(await server.query(PRACTICES));

    cluster = await startCluster(port);
    await waitFor(async () => (await fetch(`${server.url}/ready`)).status === 200, 30_000);
    expect(expectData(await server.query(PRACTICES)).practices).toEqual([]);

    const writer = await connect(cluster.url);
    await writer.query(`INSERT INTO practices (name) VALUES ('Outage')`);
    await writer.query(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
       VALUES ('After', 'Outage', 'after.outage@example.test', (SELECT min(id) FROM practices), 'SENIOR', 900, 'AVAILABLE')`,
    );
    await waitFor(() => pushes.at(-1)?.consultants.total === 1, 15_000);
    // The subscription survived the outage: same socket, no error.
    expect(errors).toEqual([]);
    expect(server.app.webSockets?.sockets).toBe(1);
  }, 120_000);
});

const CREATE_CONSULTANT = `mutation($input: CreateConsultantInput!) {
  createConsultant(input: $input) {
    __typename
    ... on CreateConsultantPayload { consultant { id } }
  }
}`;

let emails = 0;
function newConsultantInput() {
  emails += 1;
  return {
    firstName: 'Fault',
    lastName: 'Tolerant',
    email: `fault.${process.pid}.${emails}@example.test`,
    practiceId: globalId('Practice', 1),
    grade: 'SENIOR',
    dailyRate: 700,
  };
}

describe('connections terminated while mutations run', () => {
  it('a write whose transaction loses its backend gets a masked error, writes nothing, and the next write succeeds', async () => {
    const server = await startTestServer(AUTH_OVERRIDES, { disposer: dispose });
    const admin = await tokenFor('admin', 'fault-admin');
    const sabotage = await connect(server.databaseUrl);
    // A SHARE lock lets the mutation's transaction read but holds its INSERT.
    await sabotage.query('BEGIN');
    await sabotage.query('LOCK TABLE consultants IN SHARE MODE');
    const input = newConsultantInput();
    const pending = server.query(CREATE_CONSULTANT, { input }, { token: admin });
    const [pid] = await waitFor(async () => {
      const { rows } = await sabotage.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND application_name = 'consultator-graphql'`,
      );
      return rows.length > 0 ? rows.map((row) => row.pid) : null;
    }, 10_000);
    await sabotage.query('SELECT pg_terminate_backend($1)', [pid]);
    expectMasked(await pending);
    await sabotage.query('ROLLBACK');

    const { rows } = await sabotage.query<{ consultants: string; audited: string }>(
      `SELECT (SELECT count(*) FROM consultants WHERE email = $1) AS consultants,
              (SELECT count(*) FROM audit_logs WHERE operation = 'createConsultant' AND success) AS audited`,
      [input.email],
    );
    expect(rows[0]).toEqual({ consultants: '0', audited: '0' });
    const next = expectData(
      await server.query(CREATE_CONSULTANT, { input: newConsultantInput() }, { token: admin }),
    );
    expect(next.createConsultant.__typename).toBe('CreateConsultantPayload');
  });

  it('survives backends terminated in the middle of transactions, under six writing clients', async () => {
    const server = await startTestServer(
      { ...AUTH_OVERRIDES, MUTATION_RATE_LIMIT: '0', MUTATION_RATE_LIMIT_PER_ADDRESS: '0' },
      { disposer: dispose },
    );
    const admin = await tokenFor('admin', 'fault-admin');
    const sabotage = await connect(server.databaseUrl);
    let writing = true;
    const outcomes = { ok: 0, masked: 0 };
    const writers = Array.from({ length: 6 }, async () => {
      while (writing) {
        const result = await server.query(
          CREATE_CONSULTANT,
          { input: newConsultantInput() },
          { token: admin },
        );
        if (result.body.errors) {
          expect(result.body.errors[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
          outcomes.masked += 1;
        } else outcomes.ok += 1;
      }
    });
    // Backends caught between two statements of a transaction are the ones
    // whose loss reaches the driver outside any query: kill until a few were.
    let killedInTransaction = 0;
    try {
      await waitFor(
        async () => {
          const { rows } = await sabotage.query<{ state: string }>(
            `SELECT state, pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'consultator-graphql'
                AND state IN ('idle in transaction', 'active')`,
          );
          killedInTransaction += rows.filter((row) => row.state === 'idle in transaction').length;
          return killedInTransaction >= 5;
        },
        20_000,
        50,
      );
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    expect(outcomes.masked).toBeGreaterThan(0);
    // Every connection checked out for a transaction went back to the pool (or was discarded).
    const pool = server.app.pool as pg.Pool;
    await waitFor(() => pool.totalCount === pool.idleCount, 5_000);
    const next = expectData(
      await server.query(CREATE_CONSULTANT, { input: newConsultantInput() }, { token: admin }),
    );
    expect(next.createConsultant.__typename).toBe('CreateConsultantPayload');
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  });

  it('a transaction whose connection is lost before BEGIN gives its connection back', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const pool = createPool({
      connectionString: server.databaseUrl,
      max: 1,
      connectTimeoutMs: 3_000,
      counter: new SqlStatementCounter(),
    });
    dispose.add(() => pool.end());
    const db = createDatabase(pool);
    let sabotage = true;
    // 'acquire' runs before the caller gets the client: this statement goes ahead of BEGIN.
    pool.on('acquire', (client) => {
      if (!sabotage) return;
      sabotage = false;
      client.query('SELECT pg_terminate_backend(pg_backend_pid())').catch(() => {});
    });
    await expect(inTransaction(db, (tx) => tx.execute(sql`SELECT 1`))).rejects.toThrow();
    await waitFor(() => pool.totalCount === pool.idleCount, 5_000);
    // With its only slot leaked, this would wait for a connection until the connect timeout.
    const { rows } = await inTransaction(db, (tx) => tx.execute(sql`SELECT 1 AS one`));
    expect(rows).toEqual([{ one: 1 }]);
  });

  it('a dedicated client given an error path survives its backend being terminated', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const client = new pg.Client({ connectionString: server.databaseUrl });
    const reported: Error[] = [];
    handleConnectionErrors(client, (error) => reported.push(error));
    await client.connect();
    dispose.add(() => client.end().catch(() => {}));
    const killer = await connect(server.databaseUrl);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await killer.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    // pg reports the termination, then the closed socket: one report.
    await waitFor(() => reported.length > 0, 5_000);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(reported).toHaveLength(1);
  });
});
