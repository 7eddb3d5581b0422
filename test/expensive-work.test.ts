import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { withClient } from './support/database.js';
import { disposeAfterAll, waitFor } from './support/dispose.js';
import { expectData, expectOneError } from './support/graphql.js';
import { type QueryResult, startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
afterAll(() => dispose.run());

/** Costs 121: expensive for these servers (QUERY_EXPENSIVE_COST 100), cheap by the defaults. */
const EXPENSIVE = '{ consultants(first: 20) { edges { node { id fullName email grade } } } }';
/** Costs 20, and never touches `consultants`, which the tests lock to keep expensive queries running. */
const CHEAP = '{ practices { name } }';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(
    {
      ...AUTH_OVERRIDES,
      ALLOW_ANONYMOUS_READS: 'true',
      QUERY_EXPENSIVE_COST: '100',
      QUERY_MAX_EXPENSIVE_PER_CLIENT: '2',
      QUERY_MAX_EXPENSIVE_PER_INSTANCE: '3',
    },
    { disposer: dispose },
  );
});

/** Runs `work` while `consultants` is locked: queries reading it wait in the database, holding their slot. */
async function whileConsultantsLocked<T>(work: (locker: pg.Client) => Promise<T>): Promise<T> {
  return withClient(server.databaseUrl, async (client) => {
    await client.query('BEGIN');
    await client.query('LOCK TABLE consultants IN ACCESS EXCLUSIVE MODE');
    try {
      return await work(client);
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/** Resolves once `count` of the server's connections wait for the lock. */
function waitingOnLock(locker: pg.Client, count: number) {
  return waitFor(async () => {
    // Inside the locker's transaction, pg_stat_activity would be the snapshot of its first read.
    await locker.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await locker.query<{ waiting: number }>(
      `SELECT count(*)::int AS waiting FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND application_name = 'consultator-graphql'`,
    );
    return (rows[0]?.waiting ?? 0) >= count;
  }, 15_000);
}

function expectRefused(result: QueryResult, code: string, status: number) {
  const error = expectOneError(result);
  expect(error.extensions).toMatchObject({ code, retryAfterSeconds: 1 });
  expect(result.status).toBe(status);
}

async function post(query: string, token?: string) {
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  return {
    result: { status: response.status, body: JSON.parse(text), text } as QueryResult,
    retryAfter: response.headers.get('retry-after'),
  };
}

describe('budget for expensive work', () => {
  it('refuses a client its third concurrent expensive query with RATE_LIMITED, 429 and Retry-After; cheap queries still pass', async () => {
    await whileConsultantsLocked(async (locker) => {
      server.clearCaches();
      const running = [server.query(EXPENSIVE), server.query(EXPENSIVE)];
      await waitingOnLock(locker, 2);
      const third = await post(EXPENSIVE);
      expectRefused(third.result, 'RATE_LIMITED', 429);
      expect(third.retryAfter).toBe('1');
      // Another client still has its own share, and cheap work is never budgeted.
      const other = server.query(
        EXPENSIVE.replace('first: 20', 'first: 21'),
        {},
        {
          token: await tokenFor('viewer', 'other'),
        },
      );
      expectData(await server.query(CHEAP));
      await waitingOnLock(locker, 3);
      await locker.query('ROLLBACK');
      for (const result of await Promise.all([...running, other])) expectData(result);
    });
    // The slots were given back.
    expectData(await server.query(EXPENSIVE));
  });

  it('refuses anyone past the instance-wide cap with SERVER_BUSY, 503 and Retry-After', async () => {
    const tokens = await Promise.all(
      ['a', 'b', 'c', 'd'].map((actor) => tokenFor('viewer', actor)),
    );
    await whileConsultantsLocked(async (locker) => {
      server.clearCaches();
      const running = tokens.slice(0, 3).map((token) => server.query(EXPENSIVE, {}, { token }));
      await waitingOnLock(locker, 3);
      const fourth = await post(EXPENSIVE, tokens[3]);
      expectRefused(fourth.result, 'SERVER_BUSY', 503);
      expect(fourth.retryAfter).toBe('1');
      await locker.query('ROLLBACK');
      for (const result of await Promise.all(running)) expectData(result);
    });
    expectData(await server.query(EXPENSIVE, {}, { token: tokens[3] }));
  });

  it('gives the slot back when the expensive query fails', async () => {
    await withClient(server.databaseUrl, async (killer) => {
      await whileConsultantsLocked(async (locker) => {
        server.clearCaches();
        const failing = [server.query(EXPENSIVE), server.query(EXPENSIVE)];
        await waitingOnLock(locker, 2);
        await killer.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND application_name = 'consultator-graphql'`,
        );
        for (const result of await Promise.all(failing)) {
          expect(expectOneError(result).extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        }
      });
    });
    const again = await Promise.all([server.query(EXPENSIVE), server.query(EXPENSIVE)]);
    for (const result of again) expectData(result);
  });
});

describe('response-size cap', () => {
  it('replaces a result over RESPONSE_MAX_BYTES by RESPONSE_TOO_LARGE; smaller results pass', async () => {
    const capped = await startTestServer(
      { RESPONSE_MAX_BYTES: '4000' },
      { disposer: dispose, database: server.databaseUrl },
    );
    expectData(await capped.query('{ consultants(first: 5) { edges { node { fullName } } } }'));
    const result = await capped.query(
      '{ consultants(first: 100) { edges { node { id fullName email } } } }',
    );
    const error = expectOneError(result);
    expect(error.extensions).toMatchObject({ code: 'RESPONSE_TOO_LARGE', maxBytes: 4000 });
    expect(result.body.data).toBeNull();
  });
});
