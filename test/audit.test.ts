import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { disposeAfterAll } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
let server: TestServer;
let admin: string;

const UPDATE = `mutation($input: UpdateConsultantInput!) {
  updateConsultant(input: $input) { __typename }
}`;

beforeAll(async () => {
  server = await startTestServer(AUTH_OVERRIDES, { disposer: dispose });
  admin = await tokenFor('admin', 'auditor');
  const other = await tokenFor('admin', 'other-admin');
  const viewer = await tokenFor('viewer', 'peeker');
  // 3 successes by auditor, 1 validation failure by auditor, 1 success by other-admin, 1 refusal.
  for (const rate of [700, 710, 720]) {
    await server.query(
      UPDATE,
      { input: { id: globalId('Consultant', 1), dailyRate: rate } },
      { token: admin },
    );
  }
  await server.query(
    UPDATE,
    { input: { id: globalId('Consultant', 1), dailyRate: -1 } },
    { token: admin },
  );
  await server.query(
    UPDATE,
    { input: { id: globalId('Consultant', 2), dailyRate: 730 } },
    { token: other },
  );
  await server.query(
    UPDATE,
    { input: { id: globalId('Consultant', 2), dailyRate: 740 } },
    { token: viewer },
  );
});
afterAll(() => dispose.run());

const AUDIT = `query($first: Int, $after: String, $filter: AuditLogFilter) {
  auditLogs(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id at actor operation resourceType resourceId success details } }
  }
}`;

describe('auditLogs', () => {
  it('lists attempts newest first, filtered, page by page', async () => {
    const filter = { actor: 'auditor', operation: 'updateConsultant' };
    const first = expectData(
      await server.query(AUDIT, { first: 3, filter }, { token: admin }),
    ).auditLogs;
    expect(first.totalCount).toBe(4);
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.edges.map((edge: { node: { success: boolean } }) => edge.node.success)).toEqual([
      false,
      true,
      true,
    ]);
    expect(first.edges[0].node).toMatchObject({
      resourceType: 'Consultant',
      resourceId: '1',
      details: { fields: ['dailyRate'], error: 'VALIDATION' },
    });
    const second = expectData(
      await server.query(
        AUDIT,
        { first: 3, after: first.pageInfo.endCursor, filter },
        { token: admin },
      ),
    ).auditLogs;
    expect(second.edges).toHaveLength(1);
    expect(second.pageInfo.hasNextPage).toBe(false);
    const ids = [...first.edges, ...second.edges].map((edge: { node: { id: string } }) =>
      Number(edge.node.id),
    );
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('filters by outcome and time window', async () => {
    const refused = expectData(
      await server.query(AUDIT, { filter: { success: false, actor: 'peeker' } }, { token: admin }),
    ).auditLogs;
    expect(refused.totalCount).toBe(1);
    expect(refused.edges[0].node.details).toMatchObject({ error: 'FORBIDDEN', count: 1 });
    const future = expectData(
      await server.query(AUDIT, { filter: { from: '2999-01-01T00:00:00Z' } }, { token: admin }),
    ).auditLogs;
    expect(future.totalCount).toBe(0);
    const backwards = await server.query(
      AUDIT,
      { filter: { from: '2030-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' } },
      { token: admin },
    );
    expect(expectOneError(backwards).extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('counts attempts per operation and outcome', async () => {
    const { auditStats } = expectData(
      await server.query(
        '{ auditStats(filter: { resourceType: "Consultant" }) { operation success count } }',
        {},
        { token: admin },
      ),
    );
    expect(auditStats).toEqual([
      { operation: 'updateConsultant', success: true, count: 4 },
      { operation: 'updateConsultant', success: false, count: 2 },
    ]);
  });
});
