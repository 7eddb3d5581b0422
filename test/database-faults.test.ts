import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createPool, SqlStatementCounter } from '../src/db/client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { expectData, expectOneError } from './support/graphql.js';
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
