import { type Client, createClient } from 'graphql-ws';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INTERRUPTED_AT_START, INTERRUPTED_AT_STOP } from '../src/tasks/task-runner.js';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { expectData } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterEach();
afterEach(() => dispose.run());

/** The key rebuildStatsSummary locks (src/stats/fold.ts): holding it keeps a rebuild waiting. */
const STATS_LOCK_KEY = 7_312_004_212;
const TASK_LOCK_CLASS = 7_312_010;

const REBUILD = `mutation { rebuildStats {
  __typename
  ... on RebuildStatsPayload { task { id status kind createdBy } }
  ... on TaskAlreadyRunningError { message task { id } }
} }`;
const TASK = 'query($id: ID!) { task(id: $id) { id status progress error result finishedAt } }';

/** A connection of the test's own, which may hold advisory locks. */
async function lockingClient(url: string): Promise<pg.PoolClient> {
  const pool = createTestPool(url, { max: 1 });
  const client = await pool.connect();
  client.on('error', () => {});
  dispose.add(async () => {
    client.release();
    await pool.end();
  });
  return client;
}

async function ownDatabase() {
  const database = await createTestDatabase();
  dispose.add(() => database.drop());
  return database;
}

function subscribeTask(server: TestServer, token: string, id: string) {
  const updates: { status: string; progress: number }[] = [];
  let completed = false;
  const client: Client = createClient({
    url: server.graphqlUrl.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { token },
  });
  const unsubscribe = client.subscribe<{ taskUpdated: { status: string; progress: number } }>(
    { query: `subscription { taskUpdated(id: "${id}") { status progress } }` },
    {
      next: (result) => {
        if (result.data) updates.push(result.data.taskUpdated);
      },
      error: () => {},
      complete: () => {
        completed = true;
      },
    },
  );
  dispose.add(async () => {
    unsubscribe();
    await client.dispose();
  });
  return { updates, isComplete: () => completed };
}

describe('rebuildStats', () => {
  it('returns the task at once, runs in the background while queries answer, one at a time', async () => {
    const database = await ownDatabase();
    const server = await startTestServer(AUTH_OVERRIDES, { database, disposer: dispose });
    const admin = await tokenFor('admin', 'rebuilder');
    const blocker = await lockingClient(database.url);
    await blocker.query('SELECT pg_advisory_lock($1)', [STATS_LOCK_KEY]);

    const started = expectData(await server.query(REBUILD, {}, { token: admin })).rebuildStats;
    expect(started.__typename).toBe('RebuildStatsPayload');
    expect(started.task).toMatchObject({
      status: 'RUNNING',
      kind: 'REBUILD_STATS',
      createdBy: 'rebuilder',
    });
    const id = started.task.id as string;
    const watcher = subscribeTask(server, admin, id);
    await waitFor(() => watcher.updates.length > 0, 10_000);

    // The rebuild waits for the lock; the API keeps serving.
    const page = expectData(
      await server.query(
        '{ consultants(first: 2) { edges { node { id } } } }',
        {},
        { token: admin },
      ),
    );
    expect(page.consultants.edges).toHaveLength(2);
    const second = expectData(await server.query(REBUILD, {}, { token: admin })).rebuildStats;
    expect(second).toMatchObject({ __typename: 'TaskAlreadyRunningError', task: { id } });
    expect(expectData(await server.query(TASK, { id }, { token: admin })).task.status).toBe(
      'RUNNING',
    );

    await blocker.query('SELECT pg_advisory_unlock($1)', [STATS_LOCK_KEY]);
    const done = await waitFor(async () => {
      const { task } = expectData(await server.query(TASK, { id }, { token: admin }));
      return task.status === 'RUNNING' ? null : task;
    }, 15_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', progress: 1, error: null });
    expect(done.result).toMatchObject({ verified: true, differences: [] });
    await waitFor(() => watcher.isComplete(), 10_000);
    expect(watcher.updates.at(-1)).toEqual({ status: 'SUCCEEDED', progress: 1 });
    const progress = watcher.updates.map((update) => update.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    const listed = expectData(
      await server.query(
        '{ tasks(first: 5, filter: { status: SUCCEEDED }) { totalCount edges { node { id } } } }',
        {},
        { token: admin },
      ),
    ).tasks;
    expect(listed.totalCount).toBe(1);
    expect(listed.edges[0].node.id).toBe(id);
  });

  it('reports a task interrupted by a stop as failed after the restart', async () => {
    const database = await ownDatabase();
    const admin = await tokenFor('admin');
    const first = await startTestServer(AUTH_OVERRIDES, { database, disposer: dispose });
    const blocker = await lockingClient(database.url);
    await blocker.query('SELECT pg_advisory_lock($1)', [STATS_LOCK_KEY]);
    const { id } = expectData(await first.query(REBUILD, {}, { token: admin })).rebuildStats.task;
    // A stats fold of the stopping server may also wait for the lock: release
    // it once the stop has marked the task, not after the stop returned.
    const stopping = first.stop();
    await waitFor(async () => {
      const { rows } = await blocker.query('SELECT status FROM tasks WHERE id = $1', [id]);
      return rows[0]?.status === 'FAILED';
    }, 10_000);
    await blocker.query('SELECT pg_advisory_unlock($1)', [STATS_LOCK_KEY]);
    await stopping;

    const second = await startTestServer(AUTH_OVERRIDES, { database, disposer: dispose });
    const { task } = expectData(await second.query(TASK, { id }, { token: admin }));
    expect(task).toMatchObject({ status: 'FAILED', error: INTERRUPTED_AT_STOP });
    expect(task.finishedAt).not.toBeNull();
    // The index that allows one rebuild at a time was freed.
    const again = expectData(await second.query(REBUILD, {}, { token: admin })).rebuildStats;
    expect(again.__typename).toBe('RebuildStatsPayload');
  });

  it('at start fails tasks whose process died, spares those a live instance runs, deletes old ones', async () => {
    const database = await ownDatabase();
    const sql = await lockingClient(database.url);
    const insert = async (values: string) =>
      Number(
        (
          await sql.query(
            `INSERT INTO tasks (kind, status, created_by, started_at, finished_at) VALUES ${values} RETURNING id`,
          )
        ).rows[0].id,
      );
    const crashed = await insert(`('REBUILD_STATS', 'RUNNING', 'ghost', now(), NULL)`);
    const live = await insert(`('OTHER', 'RUNNING', 'elsewhere', now(), NULL)`);
    await sql.query('SELECT pg_advisory_lock($1, $2)', [TASK_LOCK_CLASS, live]);
    const old = await insert(
      `('OTHER', 'SUCCEEDED', 'x', now() - interval '3 days', now() - interval '2 days')`,
    );
    const recent = await insert(
      `('OTHER', 'FAILED', 'x', now() - interval '2 hours', now() - interval '1 hour')`,
    );

    await startTestServer(AUTH_OVERRIDES, { database, disposer: dispose });
    const rows = await sql.query('SELECT id::int, status, error FROM tasks ORDER BY id');
    expect(rows.rows).toEqual([
      { id: crashed, status: 'FAILED', error: INTERRUPTED_AT_START },
      { id: live, status: 'RUNNING', error: null },
      { id: recent, status: 'FAILED', error: null },
    ]);
    expect(rows.rows.map((row) => row.id)).not.toContain(old);
  });
});
