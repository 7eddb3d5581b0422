import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import { expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
let server: TestServer;
let sql: pg.Pool;

const ACTOR_LIMIT = 120;

beforeAll(async () => {
  server = await startTestServer(
    {
      ...AUTH_OVERRIDES,
      MUTATION_RATE_LIMIT: String(ACTOR_LIMIT),
      MUTATION_RATE_WINDOW_SECONDS: '600',
    },
    { disposer: dispose },
  );
  sql = createTestPool(server.databaseUrl);
  dispose.add(() => sql.end());
});
afterAll(() => dispose.run());

/** 15 aliased updates in one request (the alias limit). */
const ALIASED = `mutation {
${Array.from(
  { length: 15 },
  (_, i) =>
    `  m${i}: updateConsultant(input: { id: "${globalId('Consultant', 1)}", dailyRate: ${900 + i} }) { __typename }`,
).join('\n')}
}`;

interface AuditRow {
  actor: string;
  operation: string;
  error: string;
  count: number;
}

const SINGLE = `mutation { updateConsultant(input: { id: "${globalId('Consultant', 1)}", dailyRate: 950 }) { __typename } }`;

async function refusalRows(actor: string, pool = sql): Promise<AuditRow[]> {
  const { rows } = await pool.query<AuditRow>(
    `SELECT actor, operation, details->>'error' AS error, (details->>'count')::int AS count
       FROM audit_logs WHERE actor = $1 AND NOT success ORDER BY id`,
    [actor],
  );
  return rows;
}

async function post(document: string, authorization?: string, target = server) {
  const response = await fetch(target.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify({ query: document }),
  });
  return {
    status: response.status,
    body: (await response.json()) as { errors?: { extensions?: { code?: string } }[] },
  };
}

describe('refused mutation attempts', () => {
  it('rate-limits anonymous attempts too, and keeps their audit rows bounded', async () => {
    const { rows: before } = await sql.query('SELECT daily_rate FROM consultants WHERE id = 1');
    const requests = 200;
    const codes = new Map<string, number>();
    for (let start = 0; start < requests; start += 10) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => post(ALIASED)));
      for (const answer of answers) {
        for (const error of answer.body.errors ?? []) {
          const code = error.extensions?.code ?? 'NONE';
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }
    }
    const attempts = requests * 15;
    // The first ACTOR_LIMIT attempts are refused for want of a credential, the rest for the rate.
    expect(Object.fromEntries(codes)).toEqual({
      UNAUTHENTICATED: ACTOR_LIMIT,
      RATE_LIMITED: attempts - ACTOR_LIMIT,
    });
    const { rows: after } = await sql.query('SELECT daily_rate FROM consultants WHERE id = 1');
    expect(after).toEqual(before);

    // Every attempt is accounted for, in two rows instead of 3,000.
    const rows = await refusalRows('anonymous');
    expect(rows).toEqual([
      {
        actor: 'anonymous',
        operation: 'updateConsultant',
        error: 'UNAUTHENTICATED',
        count: ACTOR_LIMIT,
      },
      {
        actor: 'anonymous',
        operation: 'updateConsultant',
        error: 'RATE_LIMITED',
        count: attempts - ACTOR_LIMIT,
      },
    ]);
    const { auditStats } = (
      await server.query(
        '{ auditStats(filter: { actor: "anonymous" }) { operation success count } }',
        {},
        { token: await tokenFor('admin', 'reader') },
      )
    ).body.data;
    expect(auditStats).toEqual([
      { operation: 'updateConsultant', success: false, count: attempts },
    ]);
  });

  it('limits attempts per client address, whichever actors they claim', async () => {
    const perAddress = 5;
    const limited = await startTestServer(
      { ...AUTH_OVERRIDES, MUTATION_RATE_LIMIT_PER_ADDRESS: String(perAddress) },
      { disposer: dispose },
    );
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < perAddress + 3; i += 1) {
      // A new viewer each time: each actor's own allowance is untouched.
      const token = await tokenFor('viewer', `rotating-${i}`);
      const result = await limited.query(`mutation { rebuildStats { __typename } }`, {}, { token });
      codes.push(expectOneError(result).extensions?.code);
    }
    expect(codes).toEqual([
      ...Array.from({ length: perAddress }, () => 'FORBIDDEN'),
      'RATE_LIMITED',
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
    const refused = await limited.query(
      `mutation { rebuildStats { __typename } }`,
      {},
      {
        token: await tokenFor('admin', 'fresh-admin'),
      },
    );
    expect(expectOneError(refused).message).toMatch(/for one client address/);
  });

  it('audits mutations sent with an invalid credential (401), one counted row', async () => {
    // A server of its own: the first test spent this address's allowance.
    const fresh = await startTestServer(AUTH_OVERRIDES, { disposer: dispose });
    const pool = createTestPool(fresh.databaseUrl);
    dispose.add(() => pool.end());
    const forged = `${await tokenFor('admin', 'mallory')}x`;
    for (let i = 0; i < 12; i += 1) {
      const answer = await post(SINGLE, `Bearer ${forged}`, fresh);
      expect(answer.status).toBe(401);
      expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual([
        'UNAUTHENTICATED',
      ]);
    }
    const garbage = await post(SINGLE, 'Bearer not-a-key', fresh);
    expect(garbage.status).toBe(401);
    expect(await refusalRows('invalid-credential', pool)).toEqual([
      {
        actor: 'invalid-credential',
        operation: 'updateConsultant',
        error: 'INVALID_CREDENTIALS',
        count: 13,
      },
    ]);
    // A query with a bad credential is still refused as a whole, and is no mutation attempt.
    const read = await post('{ stats { version } }', `Bearer ${forged}`, fresh);
    expect(read.status).toBe(401);
    expect(await refusalRows('invalid-credential', pool)).toHaveLength(1);
  });
});
