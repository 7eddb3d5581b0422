import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
let server: TestServer;
let production: TestServer;
let sql: pg.Pool;
let admin: string;

beforeAll(async () => {
  server = await startTestServer(AUTH_OVERRIDES, { disposer: dispose });
  production = await startTestServer(
    { ...AUTH_OVERRIDES, NODE_ENV: 'production' },
    { disposer: dispose, database: server.databaseUrl },
  );
  sql = createTestPool(server.databaseUrl);
  dispose.add(() => sql.end());
  admin = await tokenFor('admin', 'input-tester');
});
afterAll(() => dispose.run());

const NUL = '\u0000';

async function count(table: string): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? -1;
}

/** A client error: BAD_USER_INPUT, never our INTERNAL_SERVER_ERROR. */
function expectBadUserInput(result: Awaited<ReturnType<TestServer['query']>>) {
  const error = expectOneError(result);
  expect(error.extensions?.code, error.message).toBe('BAD_USER_INPUT');
  return error;
}

const CREATE_CONSULTANT = `mutation($input: CreateConsultantInput!) {
  createConsultant(input: $input) { __typename ... on ValidationError { fieldErrors { path code } } }
}`;
const UPDATE_CONSULTANT = `mutation($input: UpdateConsultantInput!) {
  updateConsultant(input: $input) { __typename ... on ValidationError { fieldErrors { path code } } }
}`;
const CREATE_MISSION = `mutation($input: CreateMissionInput!) {
  createMission(input: $input) { __typename ... on ValidationError { fieldErrors { path code } } }
}`;

function consultantInput(overrides: Record<string, unknown> = {}) {
  return {
    firstName: 'Zoé',
    lastName: 'Martin',
    email: `zoe.${Math.random().toString(36).slice(2)}@example.com`,
    practiceId: globalId('Practice', 1),
    grade: 'SENIOR',
    dailyRate: 800,
    ...overrides,
  };
}

function missionInput(overrides: Record<string, unknown> = {}) {
  return {
    consultantId: globalId('Consultant', 1),
    client: 'ACME',
    title: 'Audit',
    startDate: '2026-01-05',
    dailyRate: 900,
    ...overrides,
  };
}

describe('NUL characters in strings', () => {
  it('refuses them in mutation inputs (create and update) with BAD_USER_INPUT, writing nothing', async () => {
    const consultants = await count('consultants');
    const audits = await count('audit_logs');
    const created = await server.query(
      CREATE_CONSULTANT,
      { input: consultantInput({ firstName: `Zo${NUL}é` }) },
      { token: admin },
    );
    expect(expectBadUserInput(created).message).toContain('$input.firstName');
    const updated = await server.query(
      UPDATE_CONSULTANT,
      { input: { id: globalId('Consultant', 1), firstName: `A${NUL}` } },
      { token: admin },
    );
    expectBadUserInput(updated);
    // In a literal (an escape, or raw inside a block string) rather than a variable.
    const literal = await server.query(
      `mutation { updateConsultant(input: { id: "${globalId('Consultant', 1)}", lastName: "B\\u0000" }) { __typename } }`,
      {},
      { token: admin },
    );
    expectBadUserInput(literal);
    const block = await server.query(
      `mutation { updateConsultant(input: { id: "${globalId('Consultant', 1)}", lastName: """B${NUL}""" }) { __typename } }`,
      {},
      { token: admin },
    );
    expectBadUserInput(block);
    expect(await count('consultants')).toBe(consultants);
    const { rows } = await sql.query('SELECT first_name FROM consultants WHERE id = 1');
    expect(rows[0].first_name).not.toContain(NUL);
    expect(await count('audit_logs')).toBe(audits);
  });

  it('refuses them in read filters: the audit operation, the task kind, a search', async () => {
    expectBadUserInput(
      await server.query(
        'query($op: String) { auditLogs(filter: { operation: $op }) { totalCount } }',
        { op: `create${NUL}` },
        { token: admin },
      ),
    );
    expectBadUserInput(
      await server.query(
        'query($kind: String) { tasks(filter: { kind: $kind }) { totalCount } }',
        { kind: `REBUILD${NUL}` },
        { token: admin },
      ),
    );
    expectBadUserInput(
      await server.query(
        `{ auditStats(filter: { actor: "x\\u0000" }) { count } }`,
        {},
        { token: admin },
      ),
    );
  });
});

describe('dates out of range', () => {
  it('refuses a mission startDate of 0000-01-01 (no year 0 in PostgreSQL) with BAD_USER_INPUT', async () => {
    const missions = await count('missions');
    const error = expectBadUserInput(
      await server.query(
        CREATE_MISSION,
        { input: missionInput({ startDate: '0000-01-01' }) },
        { token: admin },
      ),
    );
    expect(error.message).toContain('"0000-01-01" is out of range');
    expectBadUserInput(
      await server.query(
        `mutation { createMission(input: { consultantId: "${globalId('Consultant', 1)}", client: "A", title: "B", startDate: "0000-12-31", dailyRate: 900 }) { __typename } }`,
        {},
        { token: admin },
      ),
    );
    expect(await count('missions')).toBe(missions);
  });

  it('reports dates our domain forbids as a ValidationError, writing nothing', async () => {
    const missions = await count('missions');
    const result = await server.query(
      CREATE_MISSION,
      { input: missionInput({ startDate: '0001-01-01', endDate: '9999-12-31' }) },
      { token: admin },
    );
    expect(expectData(result).createMission).toEqual({
      __typename: 'ValidationError',
      fieldErrors: [
        { path: ['input', 'startDate'], code: 'OUT_OF_RANGE' },
        { path: ['input', 'endDate'], code: 'OUT_OF_RANGE' },
      ],
    });
    expect(await count('missions')).toBe(missions);
  });

  it('refuses instants PostgreSQL cannot take in the audit time filter', async () => {
    expectBadUserInput(
      await server.query(
        'query($from: DateTime) { auditLogs(filter: { from: $from }) { totalCount } }',
        { from: '0000-01-01T00:00:00Z' },
        { token: admin },
      ),
    );
  });

  it('refuses year 0 in the utilization report too', async () => {
    expectBadUserInput(
      await server.query(
        '{ utilizationReport(from: "0000-01-01", to: "2025-02-01", groupBy: PRACTICE) { cacheHit } }',
        {},
        { token: admin },
      ),
    );
  });
});

describe('node(id:) with a type that is not a node', () => {
  const notNodes = ['Task', 'AuditLog', '__proto__', 'Query', 'SortDirection', 'NoSuchType'];

  for (const target of [() => server, () => production]) {
    it(`answers BAD_USER_INPUT with a clear message (${notNodes.join(', ')})`, async () => {
      const current = target();
      for (const typename of notNodes) {
        const id = globalId(typename, 1);
        const single = await current.query(
          'query($id: ID!) { node(id: $id) { id } }',
          { id },
          { token: admin },
        );
        const error = expectBadUserInput(single);
        expect(error.message).toBe(`"${typename}" ids do not name a node`);
        const many = await current.query(
          'query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
          { ids: [globalId('Consultant', 1), id] },
          { token: admin },
        );
        expectBadUserInput(many);
      }
      // A node type still resolves.
      const found = await current.query(
        'query($id: ID!) { node(id: $id) { id } }',
        { id: globalId('Consultant', 1) },
        { token: admin },
      );
      expect(expectData(found).node.id).toBe(globalId('Consultant', 1));
    });
  }
});
