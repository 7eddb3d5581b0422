import pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { spawnTestServer } from './support/entry-point.js';

const dispose = disposeAfterEach();

/**
 * Holds an exclusive lock on `consultants`, so a request reading it waits: a slow request on
 * demand. (A plain consultants page is never served from a cache.)
 */
async function lockConsultants(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE consultants IN ACCESS EXCLUSIVE MODE');
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await client.query('ROLLBACK');
    await client.end();
  };
  dispose.add(release);
  const waiters = async () =>
    (
      await client.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND application_name = 'consultator-graphql'`,
      )
    ).rows[0]?.count ?? 0;
  return { release, waiters };
}

function openSubscriber(graphqlUrl: string) {
  const socket = new WebSocket(graphqlUrl.replace('http', 'ws'), 'graphql-transport-ws');
  const pushes: unknown[] = [];
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.type === 'connection_ack') {
      socket.send(
        JSON.stringify({
          id: 's',
          type: 'subscribe',
          payload: { query: 'subscription { statsChanged { version } }' },
        }),
      );
    }
    if (message.type === 'next') pushes.push(message.payload);
  });
  dispose.add(() => socket.terminate());
  return { pushes, closed };
}

/** A statsChanged subscription over Server-Sent Events; resolves when the server ends the stream. */
async function openSseSubscriber(graphqlUrl: string) {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: 'subscription { statsChanged { version } }' }),
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  dispose.add(() => reader.cancel().catch(() => {}));
  let received = '';
  const decoder = new TextDecoder();
  const ended = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return received;
      received += decoder.decode(value, { stream: true });
    }
  })();
  return { received: () => received, ended };
}

/** Names the step that did not happen, should a wait time out. */
async function step<T>(name: string, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const SLOW_QUERY = JSON.stringify({
  query: 'query Slow { consultants(first: 3) { edges { node { fullName } } } }',
});

function post(graphqlUrl: string, body: string) {
  return fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
}

describe('graceful shutdown of the process (SIGTERM)', () => {
  it('finishes the in-flight request, closes sockets with 1001, releases everything and exits 0', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const server = await spawnTestServer(database.url, { SHUTDOWN_GRACE_MS: '30000' }, dispose);
    const subscribers = [openSubscriber(server.graphqlUrl), openSubscriber(server.graphqlUrl)];
    await step('first pushes', () =>
      waitFor(() => subscribers.every((subscriber) => subscriber.pushes.length > 0), 30_000),
    );
    const sse = await openSseSubscriber(server.graphqlUrl);
    await step('first SSE event', () =>
      waitFor(() => sse.received().includes('"version"'), 30_000),
    );

    const lock = await lockConsultants(database.url);
    const inFlight = post(server.graphqlUrl, SLOW_QUERY);
    await step('request waiting on the lock', () =>
      waitFor(async () => (await lock.waiters()) > 0, 30_000),
    );

    server.child.kill('SIGTERM');
    // Subscriptions end with "going away" while the slow request is still running.
    expect(await Promise.all(subscribers.map((subscriber) => subscriber.closed))).toEqual([
      1001, 1001,
    ]);
    // The SSE stream is completed too, rather than left for the grace period to cut.
    expect(await sse.ended).toMatch(/event: complete/);
    // No new work is accepted.
    await waitFor(async () => {
      try {
        await post(server.graphqlUrl, SLOW_QUERY);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    expect(server.child.exitCode).toBeNull();

    await lock.release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.consultants.edges).toHaveLength(3);

    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/"msg":"stopped"/);
    // The pool and the listener are gone: nothing of the server is left on the database.
    const probe = new pg.Client({ connectionString: database.url });
    await probe.connect();
    try {
      const { rows } = await probe.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'consultator-%'
            AND application_name <> 'consultator-test'`,
      );
      expect(rows[0]?.count).toBe(0);
    } finally {
      await probe.end();
    }
  }, 90_000);

  it('bounds the wait: a request still running after SHUTDOWN_GRACE_MS is cut, and the process exits 0', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const server = await spawnTestServer(database.url, { SHUTDOWN_GRACE_MS: '1000' }, dispose);
    const lock = await lockConsultants(database.url);
    const inFlight = post(server.graphqlUrl, SLOW_QUERY).then(
      (response) => ({ cut: false, status: response.status }),
      () => ({ cut: true, status: 0 }),
    );
    await step('request waiting on the lock', () =>
      waitFor(async () => (await lock.waiters()) > 0, 30_000),
    );

    server.child.kill('SIGTERM');
    expect(await inFlight).toEqual({ cut: true, status: 0 });
    // The statement itself ends when the lock goes; then the pool can close.
    await lock.release();
    expect(await server.exited).toBe(0);
  }, 90_000);
});
