import { createClient } from 'graphql-ws';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { isRunning, spawnTestServer } from './support/entry-point.js';
import { globalId } from './support/graphql.js';

const dispose = disposeAfterEach();

/** How long backends keep being terminated: a scenario length, not a wait for anything. */
const CHAOS_MS = 10_000;
const KILL_EVERY_MS = 300;
const WRITERS = 4;
const READERS = 2;
const ACTOR = 'chaos-admin';

const CREATE_CONSULTANT = `mutation($input: CreateConsultantInput!) {
  createConsultant(input: $input) {
    __typename
    ... on CreateConsultantPayload { consultant { id } }
  }
}`;
const UPDATE_RATE = `mutation($input: UpdateConsultantInput!) {
  updateConsultant(input: $input) { __typename }
}`;
const READ = `{
  consultants(first: 5, orderBy: { field: LAST_NAME, direction: ASC }) {
    totalCount edges { node { fullName practice { name } } }
  }
  stats { consultants { total } }
}`;

interface Push {
  version: string;
  consultants: { total: number };
}

type Outcome = 'acknowledged' | 'masked' | 'unreachable';

async function post(
  graphqlUrl: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<{ status: number; body: { data?: Record<string, unknown>; errors?: unknown[] } }> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

/** An answer under faults is data or the masked error: never a leak, never anything else. */
function classify(result: Awaited<ReturnType<typeof post>>): Outcome {
  const errors = result.body.errors as { message: string; extensions?: { code?: string } }[];
  if (!errors) return 'acknowledged';
  for (const error of errors) {
    expect(error).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  }
  return 'masked';
}

describe('chaos: backends terminated again and again under writes, reads and a subscriber', () => {
  it('stays up; every acknowledged write has its row and its audit row; nothing is partial; the subscriber gets the final numbers', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const server = await spawnTestServer(
      database.url,
      {
        ...AUTH_OVERRIDES,
        ALLOW_ANONYMOUS_READS: 'true',
        MUTATION_RATE_LIMIT: '0',
        MUTATION_RATE_LIMIT_PER_ADDRESS: '0',
        LISTENER_MAX_BACKOFF_MS: '500',
        DATABASE_CONNECT_TIMEOUT_MS: '5000',
      },
      dispose,
    );
    const sql: pg.Pool = createTestPool(database.url);
    dispose.add(() => sql.end());
    const admin = await tokenFor('admin', ACTOR);

    const pushes: Push[] = [];
    const socketErrors: unknown[] = [];
    const subscriber = createClient({
      url: server.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    dispose.add(() => subscriber.dispose());
    subscriber.subscribe<{ statsChanged: Push }>(
      { query: 'subscription { statsChanged { version consultants { total } } }' },
      {
        next: (result) => {
          if (result.data) pushes.push(result.data.statsChanged);
        },
        error: (error) => socketErrors.push(error),
        complete: () => {},
      },
    );
    await waitFor(() => pushes.length > 0, 15_000);

    let running = true;
    const acknowledged = new Map<number, 'created' | 'updated'>();
    const writes = { acknowledged: 0, masked: 0, unreachable: 0 };
    const reads = { acknowledged: 0, masked: 0, unreachable: 0 };
    let sequence = 0;

    async function attempt(work: () => Promise<Outcome>, tally: Record<Outcome, number>) {
      let outcome: Outcome;
      try {
        outcome = await work();
      } catch (error) {
        // A refused connection or a reset socket: the process is checked below.
        if (!(error instanceof TypeError)) throw error;
        outcome = 'unreachable';
      }
      tally[outcome] += 1;
    }

    const writers = Array.from({ length: WRITERS }, async () => {
      while (running) {
        sequence += 1;
        const input = {
          firstName: 'Chaos',
          lastName: `Writer${sequence}`,
          email: `chaos.${sequence}@example.test`,
          practiceId: globalId('Practice', 1),
          grade: 'JUNIOR',
          dailyRate: 500,
        };
        await attempt(async () => {
          const result = await post(server.graphqlUrl, CREATE_CONSULTANT, { input }, admin);
          const outcome = classify(result);
          const payload = result.body.data?.createConsultant as
            | { __typename: string; consultant?: { id: string } }
            | undefined;
          if (outcome === 'acknowledged') {
            expect(payload?.__typename).toBe('CreateConsultantPayload');
            const id = Number(
              Buffer.from(String(payload?.consultant?.id), 'base64').toString().split(':')[1],
            );
            acknowledged.set(id, 'created');
            // Half of them get an update too: a write on an existing row, audited the same way.
            if (id % 2 === 0) {
              const update = await post(
                server.graphqlUrl,
                UPDATE_RATE,
                { input: { id: payload?.consultant?.id, dailyRate: 600 } },
                admin,
              );
              if (classify(update) === 'acknowledged') acknowledged.set(id, 'updated');
            }
          }
          return outcome;
        }, writes);
      }
    });
    const readers = Array.from({ length: READERS }, async () => {
      while (running) {
        await attempt(async () => classify(await post(server.graphqlUrl, READ, {})), reads);
      }
    });

    const killer = createTestPool(database.url, { max: 1, applicationName: 'consultator-chaos' });
    dispose.add(() => killer.end());
    let terminated = 0;
    const chaosEnds = Date.now() + CHAOS_MS;
    try {
      while (Date.now() < chaosEnds) {
        const { rowCount } = await killer.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database()
              AND application_name IN ('consultator-graphql', 'consultator-listener')`,
        );
        terminated += rowCount ?? 0;
        await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
      }
    } finally {
      running = false;
      await Promise.all([...writers, ...readers]);
    }

    // The process is up and serving again.
    expect(isRunning(server), server.output().slice(-4_000)).toBe(true);
    expect(terminated).toBeGreaterThan(0);
    expect(writes.acknowledged).toBeGreaterThan(0);
    expect(reads.acknowledged).toBeGreaterThan(0);
    await waitFor(
      async () => (await fetch(server.graphqlUrl.replace('/graphql', '/ready'))).status === 200,
      30_000,
      100,
    );

    // Every acknowledged write is there, with its audit row.
    const { rows } = await sql.query<{ id: number; daily_rate: number }>(
      `SELECT id, daily_rate FROM consultants WHERE email LIKE 'chaos.%@example.test'`,
    );
    const stored = new Map(rows.map((row) => [row.id, row.daily_rate]));
    for (const [id, kind] of acknowledged) {
      expect(stored.has(id), `acknowledged consultant ${id} is missing`).toBe(true);
      if (kind === 'updated') expect(stored.get(id)).toBe(600);
    }
    const audited = await sql.query<{ operation: string; resource_id: string }>(
      `SELECT operation, resource_id FROM audit_logs WHERE actor = $1 AND success`,
      [ACTOR],
    );
    const auditedIds = (operation: string) =>
      new Set(
        audited.rows
          .filter((row) => row.operation === operation)
          .map((row) => Number(row.resource_id)),
      );
    const createdAudits = auditedIds('createConsultant');
    const updatedAudits = auditedIds('updateConsultant');
    for (const [id, kind] of acknowledged) {
      expect(createdAudits.has(id), `consultant ${id} has no audit row`).toBe(true);
      if (kind === 'updated') expect(updatedAudits.has(id)).toBe(true);
    }
    // Nothing partial, acknowledged or not: a row without its audit row, or the reverse.
    expect([...stored.keys()].filter((id) => !createdAudits.has(id))).toEqual([]);
    expect([...createdAudits].filter((id) => !stored.has(id))).toEqual([]);
    expect([...stored].filter(([id, rate]) => rate === 600 && !updatedAudits.has(id))).toEqual([]);

    // The subscriber (same socket all along) receives the final numbers.
    const {
      rows: [final],
    } = await sql.query<{ total: number }>('SELECT count(*)::int AS total FROM consultants');
    await waitFor(() => pushes.at(-1)?.consultants.total === final?.total, 30_000, 50);
    expect(socketErrors).toEqual([]);

    // And the next write simply succeeds.
    const next = await post(
      server.graphqlUrl,
      CREATE_CONSULTANT,
      {
        input: {
          firstName: 'After',
          lastName: 'Chaos',
          email: 'after.chaos@example.test',
          practiceId: globalId('Practice', 1),
          grade: 'JUNIOR',
          dailyRate: 500,
        },
      },
      admin,
    );
    expect(classify(next)).toBe('acknowledged');
    expect(isRunning(server)).toBe(true);
  }, 120_000);
});
