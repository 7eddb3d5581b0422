import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const LIMIT = 3;
const dispose = disposeAfterAll();
let server: TestServer;
let sql: pg.Pool;

beforeAll(async () => {
  server = await startTestServer(
    { ...AUTH_OVERRIDES, MUTATION_RATE_LIMIT: String(LIMIT), MUTATION_RATE_WINDOW_SECONDS: '600' },
    { disposer: dispose },
  );
  sql = createTestPool(server.databaseUrl);
  dispose.add(() => sql.end());
});
afterAll(() => dispose.run());

const UPDATE_RATE = `mutation($input: UpdateConsultantInput!) {
  updateConsultant(input: $input) {
    __typename
    ... on UpdateConsultantPayload { consultant { dailyRate } }
  }
}`;

const REBUILD = `mutation { rebuildStats { __typename } }`;

async function dailyRateOf(id: number): Promise<number> {
  const { rows } = await sql.query<{ daily_rate: number }>(
    'SELECT daily_rate FROM consultants WHERE id = $1',
    [id],
  );
  return rows[0]?.daily_rate ?? Number.NaN;
}

async function auditRows(actor: string) {
  const { rows } = await sql.query<{ operation: string; success: boolean; error: string | null }>(
    `SELECT operation, success, details->>'error' AS error
       FROM audit_logs WHERE actor = $1 ORDER BY id`,
    [actor],
  );
  return rows;
}

function updateRate(token: string, id: number, dailyRate: number) {
  return server.query(
    UPDATE_RATE,
    { input: { id: globalId('Consultant', id), dailyRate } },
    { token },
  );
}

describe('mutation rate limit per actor', () => {
  it('refuses the mutation past the limit with RATE_LIMITED, writes nothing, audits the refusal', async () => {
    const token = await tokenFor('admin', 'rita');
    for (let i = 1; i <= LIMIT; i += 1) {
      const result = await updateRate(token, 1, 1_000 + i);
      expect(expectData(result).updateConsultant.__typename).toBe('UpdateConsultantPayload');
    }
    expect(await dailyRateOf(1)).toBe(1_000 + LIMIT);

    const refused = await updateRate(token, 1, 4_242);
    const error = expectOneError(refused);
    expect(error.extensions?.code).toBe('RATE_LIMITED');
    expect(error.message).toMatch(/at most 3 every 600 s/);
    expect(error.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(await dailyRateOf(1)).toBe(1_000 + LIMIT);

    // Every mutation counts, rebuildStats included.
    const rebuild = await server.query(REBUILD, {}, { token });
    expect(expectOneError(rebuild).extensions?.code).toBe('RATE_LIMITED');

    expect(await auditRows('rita')).toEqual([
      ...Array.from({ length: LIMIT }, () => ({
        operation: 'updateConsultant',
        success: true,
        error: null,
      })),
      { operation: 'updateConsultant', success: false, error: 'RATE_LIMITED' },
      { operation: 'rebuildStats', success: false, error: 'RATE_LIMITED' },
    ]);
  });

  it('counts each actor on its own, and leaves reads alone', async () => {
    const first = await tokenFor('admin', 'sam');
    const second = await tokenFor('admin', 'tess');
    for (let i = 1; i <= LIMIT; i += 1) {
      expect(expectData(await updateRate(first, 2, 2_000 + i)).updateConsultant.__typename).toBe(
        'UpdateConsultantPayload',
      );
    }
    expect(expectOneError(await updateRate(first, 2, 9_999)).extensions?.code).toBe('RATE_LIMITED');
    // Another admin still has a full allowance.
    expect(expectData(await updateRate(second, 2, 2_500)).updateConsultant.__typename).toBe(
      'UpdateConsultantPayload',
    );
    expect(await dailyRateOf(2)).toBe(2_500);
    // Queries are not mutations: the limited actor still reads.
    const read = await server.query('{ stats { version } }', {}, { token: first });
    expect(expectData(read).stats.version).toEqual(expect.any(String));
  });
});
