import { type Client, createClient } from 'graphql-ws';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHANGES_CHANNEL } from '../src/db/change-contract.js';
import { computeDashboardStatsFromScratch } from '../src/stats/snapshot.js';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { startTestServer, type TestServer } from './support/server.js';

const STATS_FIELDS = `version computedAt
  consultants { total available onMission unavailable utilizationRate }
  missions { active ended total averageDailyRate }
  practices { name consultants available onMission averageDailyRate }
  topSkills(first: 50) { name consultants }`;

interface Push {
  version: string;
  consultants: { total: number; available: number; onMission: number };
  missions: { active: number; total: number };
  [key: string]: unknown;
}

const dispose = disposeAfterEach();

/** Collects every statsChanged push over graphql-ws. */
function subscribeWs(server: TestServer, variables: Record<string, unknown> = {}) {
  const pushes: Push[] = [];
  const errors: unknown[] = [];
  const client: Client = createClient({
    url: server.graphqlUrl.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
  });
  const unsubscribe = client.subscribe<{ statsChanged: Push }>(
    {
      query: `subscription($min: Int) { statsChanged(minIntervalMs: $min) { ${STATS_FIELDS} } }`,
      variables,
    },
    {
      next: (result) => {
        if (result.errors) errors.push(result.errors);
        if (result.data) pushes.push(result.data.statsChanged);
      },
      error: (error) => errors.push(error),
      complete: () => {},
    },
  );
  dispose.add(async () => {
    unsubscribe();
    await client.dispose();
  });
  return { pushes, errors };
}

/** Collects every statsChanged push over Server-Sent Events (yoga's built-in). */
function subscribeSse(server: TestServer) {
  const pushes: Push[] = [];
  const controller = new AbortController();
  const done = (async () => {
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: `subscription { statsChanged { ${STATS_FIELDS} } }` }),
      signal: controller.signal,
    });
    if (!response.body) throw new Error('no SSE body');
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body.getReader();
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('');
        if (data) {
          const parsed = JSON.parse(data) as { data?: { statsChanged: Push } };
          if (parsed.data) pushes.push(parsed.data.statsChanged);
        }
      }
    }
  })().catch((error: unknown) => {
    if ((error as Error).name !== 'AbortError') throw error;
  });
  dispose.add(async () => {
    controller.abort();
    await done;
  });
  return { pushes };
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const INSERT_CONSULTANT = `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
  VALUES ('Live', 'Test', $1, (SELECT min(id) FROM practices), 'SENIOR', 900, 'AVAILABLE')`;

function stripVolatile(snapshot: Record<string, unknown>) {
  const { computedAt: _c, version: _v, ...rest } = snapshot;
  return rest;
}

describe('statsChanged', () => {
  it('pushes a committed write to graphql-ws and SSE subscribers, and nothing for a rollback', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const ws = subscribeWs(server);
    const sse = subscribeSse(server);
    await waitFor(() => ws.pushes.length === 1 && sse.pushes.length === 1, 10_000);
    const before = ws.pushes[0] as Push;
    expect(sse.pushes[0]).toEqual(before);

    await withClient(server.databaseUrl, (client) =>
      client.query(INSERT_CONSULTANT, ['live.1@example.test']),
    );
    await waitFor(() => ws.pushes.length === 2 && sse.pushes.length === 2, 10_000);
    const after = ws.pushes[1] as Push;
    expect(after.consultants.total).toBe(before.consultants.total + 1);
    expect(after.consultants.available).toBe(before.consultants.available + 1);
    expect(BigInt(after.version)).toBeGreaterThan(BigInt(before.version));
    expect(sse.pushes[1]).toEqual(after);

    // Let the follow-up work of the committed write settle (the fold's wake-up echo) first.
    await server.waitForIdle(300);
    const recomputes = server.app.stats?.metrics.recomputes ?? 0;
    await withClient(server.databaseUrl, async (client) => {
      await client.query('BEGIN');
      await client.query(INSERT_CONSULTANT, ['live.rollback@example.test']);
      await client.query('ROLLBACK');
    });
    // Nothing is supposed to happen: give a push the time it would need (several windows).
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(ws.pushes).toHaveLength(2);
    expect(sse.pushes).toHaveLength(2);
    expect(server.app.stats?.metrics.recomputes).toBe(recomputes);
    expect(ws.errors).toEqual([]);
  });

  it('coalesces a burst of 1,000 committed inserts into a handful of recomputes; the last push equals a full recompute', async () => {
    const server = await startTestServer({ STATS_COALESCE_MS: '100' }, { disposer: dispose });
    const subscribers = Array.from({ length: 20 }, () => subscribeWs(server));
    await waitFor(() => subscribers.every((s) => s.pushes.length === 1), 10_000);
    const recomputesBefore = server.app.stats?.metrics.recomputes ?? 0;

    // 1,000 transactions from 4 concurrent writers, each inserting one mission.
    const pool = createTestPool(server.databaseUrl, { max: 4 });
    dispose.add(() => pool.end());
    const { rows } = await pool.query<{ id: number }>(
      'SELECT id FROM consultants ORDER BY id LIMIT 50',
    );
    let next = 0;
    const burstStartedAt = Date.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = next++; i < 1000; i = next++) {
          await pool.query(
            `INSERT INTO missions (consultant_id, client, title, start_date, daily_rate, status)
             VALUES ($1, 'Burst SA', 'Burst', '2026-01-01', 700, 'PLANNED')`,
            [rows[i % rows.length]?.id],
          );
        }
      }),
    );
    const burstMs = Date.now() - burstStartedAt;
    const expected = await withClient(server.databaseUrl, (client) =>
      computeDashboardStatsFromScratch(client, { topSkills: 50 }),
    );
    await waitFor(
      () => subscribers.every((s) => s.pushes.at(-1)?.missions.total === expected.missions.total),
      10_000,
    );
    await server.waitForIdle(300);
    const recomputes = (server.app.stats?.metrics.recomputes ?? 0) - recomputesBefore;
    console.info(
      `burst of 1,000 transactions in ${burstMs} ms, 20 subscribers: ${recomputes} recomputes`,
    );
    // One recompute per 100 ms window while the burst lasts (plus the leading
    // one and the trailing one), never one per write or per subscriber
    // (however long a busy machine makes the burst last).
    expect(recomputes).toBeGreaterThanOrEqual(1);
    expect(recomputes).toBeLessThanOrEqual(Math.ceil(burstMs / 100) + 2);
    expect(recomputes).toBeLessThan(1000 / 10);
    const last = subscribers[0]?.pushes.at(-1) as Push;
    expect(last.missions.total).toBe(expected.missions.total);
    expect(last.consultants.total).toBe(expected.consultants.total);
    for (const subscriber of subscribers) expect(subscriber.pushes.at(-1)).toEqual(last);
    const { data } = (await server.query(`{ stats { ${STATS_FIELDS} } }`)).body;
    expect(stripVolatile(data.stats)).toEqual(
      stripVolatile({
        ...expected,
        missions: {
          active: expected.missions.active,
          ended: expected.missions.ended,
          total: expected.missions.total,
          averageDailyRate: expected.missions.averageDailyRate,
        },
        consultants: expected.consultants,
        practices: expected.practices.map(
          ({ name, consultants, available, onMission, averageDailyRate }) => ({
            name,
            consultants,
            available,
            onMission,
            averageDailyRate,
          }),
        ),
        topSkills: expected.topSkills.map(({ name, consultants }) => ({ name, consultants })),
      }),
    );
  });

  it('issues no SQL statement while subscribers wait and nothing changes', async () => {
    const server = await startTestServer({ CHANGE_DETECTION: 'notify' }, { disposer: dispose });
    const subscribers = Array.from({ length: 10 }, () => subscribeWs(server));
    await waitFor(() => subscribers.every((s) => s.pushes.length === 1), 10_000);
    await server.waitForIdle(200);
    const before = server.sqlCounter.total;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(server.sqlCounter.total - before).toBe(0);
  });

  it('a cached stats query is served without SQL until a write invalidates it', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    await server.query('{ stats { version } }');
    await server.waitForIdle();
    const before = server.sqlCounter.total;
    for (let i = 0; i < 5; i += 1)
      await server.query('{ stats { version consultants { total } } }');
    expect(server.sqlCounter.total - before).toBe(0);
    await withClient(server.databaseUrl, (client) =>
      client.query(INSERT_CONSULTANT, ['live.cache@example.test']),
    );
    const fresh = await waitFor(async () => {
      const { body } = await server.query('{ stats { consultants { total } } }');
      return body.data.stats.consultants.total === 121 ? body : null;
    }, 10_000);
    expect(fresh.data.stats.consultants.total).toBe(121);
  });

  it('reconnects after the listener backend is terminated, resyncs, and delivers the next write', async () => {
    const server = await startTestServer({ CHANGE_DETECTION: 'notify' }, { disposer: dispose });
    const ws = subscribeWs(server);
    await waitFor(() => ws.pushes.length === 1, 10_000);
    // Prime the caches so a stale entry would be visible after the reconnect.
    await server.query(
      '{ stats { version consultants { total } } consultants(first: 1) { totalCount } }',
    );

    await withClient(server.databaseUrl, async (client) => {
      const { rowCount } = await client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'consultator-listener'`,
      );
      expect(rowCount).toBe(1);
      // Written while the listener is away: its notification is lost for good.
      await client.query(INSERT_CONSULTANT, ['live.missed@example.test']);
    });
    await waitFor(
      () =>
        (server.app.changes?.status.reconnects ?? 0) >= 1 &&
        server.app.changes?.status.listenerConnected,
      15_000,
    );
    // The resync recomputes and pushes the write that was missed.
    await waitFor(() => ws.pushes.at(-1)?.consultants.total === 121, 10_000);
    const { body } = await server.query(
      '{ stats { consultants { total } } consultants(first: 1) { totalCount } }',
    );
    expect(body.data.stats.consultants.total).toBe(121);
    expect(body.data.consultants.totalCount).toBe(121);

    await withClient(server.databaseUrl, (client) =>
      client.query(INSERT_CONSULTANT, ['live.after@example.test']),
    );
    await waitFor(() => ws.pushes.at(-1)?.consultants.total === 122, 10_000);
  });

  it('minIntervalMs limits how often a subscriber is pushed to, and it gets the newest version', async () => {
    const server = await startTestServer({ STATS_COALESCE_MS: '0' }, { disposer: dispose });
    const fast = subscribeWs(server);
    const slow = subscribeWs(server, { min: 1_000 });
    await waitFor(() => fast.pushes.length === 1 && slow.pushes.length === 1, 10_000);
    const startedAt = Date.now();
    for (let i = 0; i < 5; i += 1) {
      await withClient(server.databaseUrl, (client) =>
        client.query(INSERT_CONSULTANT, [`live.rate.${i}@example.test`]),
      );
      await waitFor(() => fast.pushes.at(-1)?.consultants.total === 121 + i, 5_000);
    }
    await waitFor(() => slow.pushes.at(-1)?.consultants.total === 125, 5_000);
    expect(fast.pushes.length).toBe(6);
    // At most one push per second after the first, whatever the machine's speed.
    const elapsedMs = Date.now() - startedAt;
    expect(slow.pushes.length).toBeLessThanOrEqual(2 + Math.floor(elapsedMs / 1_000));
    expect(slow.pushes.length).toBeLessThan(fast.pushes.length);
  });

  it('rejects a negative minIntervalMs with BAD_USER_INPUT', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const ws = subscribeWs(server, { min: -1 });
    await waitFor(() => ws.errors.length > 0, 5_000);
    expect(JSON.stringify(ws.errors)).toContain('BAD_USER_INPUT');
  });
  it('costs one recompute, in one statement, per write after a quiet period', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const ws = subscribeWs(server);
    await waitFor(() => ws.pushes.length === 1, 10_000);
    await server.waitForIdle(400);
    const statements: string[] = [];
    const stopObserving = server.sqlCounter.observe((text) => statements.push(text));
    dispose.add(stopObserving);
    const recomputesBefore = server.app.stats?.metrics.recomputes ?? 0;
    const perWrite: string[][] = [];
    for (let i = 0; i < 5; i += 1) {
      const before = statements.length;
      await withClient(server.databaseUrl, (client) =>
        client.query(INSERT_CONSULTANT, [`live.quiet${i}@example.test`]),
      );
      await waitFor(() => ws.pushes.at(-1)?.consultants.total === 121 + i, 10_000);
      // Everything the write caused, follow-ups included, is over.
      await server.waitForIdle(400);
      perWrite.push(statements.slice(before));
    }
    // One fold + snapshot per write, in one statement; nothing after it.
    expect(perWrite.map((list) => list.length)).toEqual([1, 1, 1, 1, 1]);
    expect(perWrite.flat().every((text) => text.includes('stats_fold'))).toBe(true);
    expect((server.app.stats?.metrics.recomputes ?? 0) - recomputesBefore).toBe(5);
    expect(ws.pushes.map((push) => push.consultants.total)).toEqual([120, 121, 122, 123, 124, 125]);
  });
});

describe('several instances on one database', () => {
  it('with two instances on one database, one write is folded once and pushed once by both', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const first = await startTestServer({}, { database, disposer: dispose });
    const second = await startTestServer({}, { database, disposer: dispose });
    const a = subscribeWs(first);
    const b = subscribeWs(second);
    await waitFor(() => a.pushes.length === 1 && b.pushes.length === 1, 10_000);
    expect(a.pushes[0]?.version).toBe(b.pushes[0]?.version);
    await Promise.all([first.waitForIdle(400), second.waitForIdle(400)]);

    // Every fold that consumes deltas announces itself once: count them.
    const folds: string[] = [];
    const listener = new pg.Client({ connectionString: database.url });
    await listener.connect();
    dispose.add(() => listener.end());
    listener.on('notification', (message) => {
      if (message.payload?.startsWith('folded:')) folds.push(message.payload);
    });
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
    const statementsBefore = [first.sqlCounter.total, second.sqlCounter.total];

    await withClient(database.url, (client) =>
      client.query(INSERT_CONSULTANT, ['live.both@example.test']),
    );
    await waitFor(
      () =>
        a.pushes.at(-1)?.consultants.total === 121 && b.pushes.at(-1)?.consultants.total === 121,
      10_000,
    );
    await Promise.all([first.waitForIdle(400), second.waitForIdle(400)]);
    expect(folds).toHaveLength(1);
    expect(folds[0]).toBe(`folded:${a.pushes.at(-1)?.version}:consultants`);
    // The new version once on each side, the same one.
    expect(a.pushes).toHaveLength(2);
    expect(b.pushes).toHaveLength(2);
    expect(a.pushes.at(-1)?.version).toBe(b.pushes.at(-1)?.version);
    // One statement each: the instance that lost the race for the fold lock
    // gets the snapshot the winner published (or reads it on its announcement).
    const spent = [
      first.sqlCounter.total - (statementsBefore[0] ?? 0),
      second.sqlCounter.total - (statementsBefore[1] ?? 0),
    ];
    expect(spent.every((n) => n >= 1 && n <= 2)).toBe(true);
  });
});
