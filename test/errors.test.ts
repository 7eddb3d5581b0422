import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import {
  decodeCursorJson,
  encodeCursorJson,
  expectData,
  expectOneError,
  globalId,
} from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';
import { countStatements, fewestStatements } from './support/sql.js';

/*
 * A client mistake must come back as a GraphQL error with a stable code and a
 * message saying what is wrong, before any SQL runs; anything else must come
 * back masked, with nothing of the server's insides.
 */

const dispose = disposeAfterAll();
let server: TestServer;
let db: pg.Pool;

beforeAll(async () => {
  const database = await createTestDatabase();
  dispose.add(() => database.drop());
  db = createTestPool(database.url);
  dispose.add(() => db.end());
  server = await startTestServer({}, { database, disposer: dispose });
});

const CONSULTANTS = /* GraphQL */ `
  query (
    $first: Int
    $last: Int
    $after: String
    $before: String
    $filter: ConsultantFilter
    $orderBy: ConsultantOrder
  ) {
    consultants(
      first: $first
      last: $last
      after: $after
      before: $before
      filter: $filter
      orderBy: $orderBy
    ) {
      totalCount
      edges { cursor node { id } }
      pageInfo { startCursor endCursor }
    }
  }
`;

const MISSIONS = /* GraphQL */ `
  query ($first: Int, $last: Int, $after: String, $before: String, $filter: MissionFilter) {
    missions(first: $first, last: $last, after: $after, before: $before, filter: $filter) {
      totalCount
      edges { cursor node { id } }
    }
  }
`;

const CONSULTANT = /* GraphQL */ `
  query ($id: ID!) {
    consultant(id: $id) { id }
  }
`;

const NODE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) { id }
  }
`;

/**
 * Runs a request that must fail with BAD_USER_INPUT on `field`, without
 * sending a single statement to the database, and returns the message.
 */
async function expectBadUserInput(
  document: string,
  variables: Record<string, unknown>,
  field: string,
  message: RegExp,
): Promise<string> {
  const { count, statements, result } = await fewestStatements(server, () =>
    server.query(document, variables),
  );
  const error = expectOneError(result);
  expect(error.extensions?.code, result.text).toBe('BAD_USER_INPUT');
  expect(error.message).toMatch(message);
  expect(error.path).toEqual([field]);
  expect(result.body.data?.[field] ?? null).toBeNull();
  expect(count, `statements sent for a rejected request:\n${statements.join('\n')}`).toBe(0);
  return error.message;
}

describe('page sizes', () => {
  it.each([
    [{ first: 101 }, /"first".*at most 100/],
    [{ last: 101 }, /"last".*at most 100/],
    [{ first: -1 }, /"first".*negative/],
    [{ last: -1 }, /"last".*negative/],
    [{ first: 5, last: 5 }, /either "first" or "last"/],
  ])('rejects %j', async (variables, message) => {
    await expectBadUserInput(CONSULTANTS, variables, 'consultants', message);
    await expectBadUserInput(MISSIONS, variables, 'missions', message);
  });

  it('accepts the bounds themselves', async () => {
    const data = expectData(await server.query(CONSULTANTS, { first: 100 }));
    expect(data.consultants.edges).toHaveLength(100);
    expect(expectData(await server.query(CONSULTANTS, { last: 0 })).consultants.edges).toEqual([]);
  });

  it('rejects last/before on Consultant.missions, which pages forward only', async () => {
    const result = await server.query(
      `query ($id: ID!) { consultant(id: $id) { missions(last: 2) { totalCount } } }`,
      { id: globalId('Consultant', 1) },
    );
    const error = expectOneError(result);
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/first and after/);
  });
});

describe('cursors', () => {
  let lastNameCursor: string;
  let dailyRateCursor: string;
  let createdAtCursor: string;
  let missionCursor: string;

  beforeAll(async () => {
    const cursorOf = async (orderBy?: unknown) =>
      expectData(await server.query(CONSULTANTS, { first: 3, orderBy })).consultants.pageInfo
        .endCursor as string;
    lastNameCursor = await cursorOf();
    dailyRateCursor = await cursorOf({ field: 'DAILY_RATE' });
    createdAtCursor = await cursorOf({ field: 'CREATED_AT' });
    missionCursor = expectData(await server.query(MISSIONS, { first: 2 })).missions.edges[1].cursor;
  });

  const tampered = (cursor: string, change: (value: unknown[]) => unknown[]) =>
    encodeCursorJson(change([...(decodeCursorJson(cursor) as unknown[])]));

  it('rejects garbage and cursors that do not decode to a position', async () => {
    const cursors = [
      'garbage!!',
      'not a cursor',
      '',
      'x'.repeat(2000),
      encodeCursorJson({ lastName: 'Martin', id: 3 }),
      Buffer.from('not json').toString('base64url'),
      encodeCursorJson([1, 2]),
      encodeCursorJson(['LAST_NAME', 'Martin']),
      encodeCursorJson(['LAST_NAME', 'Martin', 3, 4]),
      encodeCursorJson(null),
    ];
    for (const cursor of cursors) {
      if (cursor === '') {
        // An empty string means "no cursor" to Relay clients; it must not fail.
        expectData(await server.query(CONSULTANTS, { first: 2, after: cursor }));
        continue;
      }
      for (const argument of ['after', 'before']) {
        await expectBadUserInput(
          CONSULTANTS,
          { first: 2, [argument]: cursor },
          'consultants',
          new RegExp(`"${argument}" is not a valid cursor`),
        );
      }
    }
  });

  it('rejects a cursor from another order or another list', async () => {
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, after: dailyRateCursor },
      'consultants',
      /"after" is not a valid cursor/,
    );
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, after: lastNameCursor, orderBy: { field: 'CREATED_AT' } },
      'consultants',
      /"after" is not a valid cursor/,
    );
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, after: missionCursor },
      'consultants',
      /"after" is not a valid cursor/,
    );
    await expectBadUserInput(
      MISSIONS,
      { first: 2, before: lastNameCursor },
      'missions',
      /"before" is not a valid cursor/,
    );
  });

  it('rejects a cursor whose id or value was modified', async () => {
    const modified = [
      tampered(lastNameCursor, ([key, value]) => [key, value, 'x']),
      tampered(lastNameCursor, ([key, value]) => [key, value, -1]),
      tampered(lastNameCursor, ([key, value]) => [key, value, 0]),
      tampered(lastNameCursor, ([key, value]) => [key, value, 1.5]),
      tampered(lastNameCursor, ([key, _value, id]) => [key, 42, id]),
      tampered(lastNameCursor, ([key, _value, id]) => [key, null, id]),
    ];
    for (const cursor of modified) {
      await expectBadUserInput(
        CONSULTANTS,
        { first: 2, after: cursor },
        'consultants',
        /"after" is not a valid cursor/,
      );
    }
    await expectBadUserInput(
      CONSULTANTS,
      {
        first: 2,
        after: tampered(dailyRateCursor, ([key, _value, id]) => [key, '700', id]),
        orderBy: { field: 'DAILY_RATE' },
      },
      'consultants',
      /"after" is not a valid cursor/,
    );
    await expectBadUserInput(
      CONSULTANTS,
      {
        first: 2,
        after: tampered(createdAtCursor, ([key, _value, id]) => [key, 'yesterday', id]),
        orderBy: { field: 'CREATED_AT' },
      },
      'consultants',
      /"after" is not a valid cursor/,
    );
    await expectBadUserInput(
      MISSIONS,
      { first: 2, after: tampered(missionCursor, ([key, _value, id]) => [key, '2024/01/01', id]) },
      'missions',
      /"after" is not a valid cursor/,
    );
  });

  // A well-formed but different position is still a position: keyset paging
  // starts from it. Values PostgreSQL cannot represent are not, and must not
  // reach it (they would fail as a server error).
  it('accepts a modified but representable position', async () => {
    const cursor = tampered(lastNameCursor, ([key]) => [key, 'M', 1]);
    expectData(await server.query(CONSULTANTS, { first: 2, after: cursor }));
  });

  // Cursor values reach SQL casts: whatever PostgreSQL would refuse must be refused first.
  it.each([
    ['a date that does not exist in a mission cursor', 'missions', '2021-02-30'],
    ['an out-of-range date in a mission cursor', 'missions', '2021-13-45'],
    ['a daily rate beyond the integer range', 'DAILY_RATE', 2 ** 40],
    ['a NUL character in a name cursor', 'LAST_NAME', 'Mar\u0000tin'],
    ['a timestamp PostgreSQL cannot store', 'CREATED_AT', '+275760-09-13T00:00:00.000Z'],
  ])('rejects %s as bad input, not a server error', async (_label, kind, value) => {
    if (kind === 'missions') {
      await expectBadUserInput(
        MISSIONS,
        { first: 2, after: tampered(missionCursor, ([key, _value, id]) => [key, value, id]) },
        'missions',
        /"after" is not a valid cursor/,
      );
      return;
    }
    const base = {
      LAST_NAME: lastNameCursor,
      DAILY_RATE: dailyRateCursor,
      CREATED_AT: createdAtCursor,
    }[kind as 'LAST_NAME'];
    await expectBadUserInput(
      CONSULTANTS,
      {
        first: 2,
        after: tampered(base, ([key, _value, id]) => [key, value, id]),
        orderBy: { field: kind },
      },
      'consultants',
      /"after" is not a valid cursor/,
    );
  });
});

describe('global IDs', () => {
  const malformed = [
    'not-an-id',
    '42',
    Buffer.from('no separator').toString('base64'),
    Buffer.from(':7').toString('base64'),
    // Base64 that does not round-trip (padding removed): a tampered id.
    Buffer.from('Consultant:12').toString('base64').replace(/=+$/, ''),
  ];

  it('rejects malformed IDs in consultant(id) and node(id)', async () => {
    for (const id of malformed) {
      await expectBadUserInput(CONSULTANT, { id }, 'consultant', /is not a valid ID/);
      await expectBadUserInput(NODE, { id }, 'node', /is not a valid ID/);
    }
  });

  it('rejects IDs of the wrong type', async () => {
    await expectBadUserInput(
      CONSULTANT,
      { id: globalId('Practice', 1) },
      'consultant',
      /expects Consultant ids, got a Practice id/,
    );
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, filter: { practiceIds: [globalId('Practice', 1), globalId('Consultant', 1)] } },
      'consultants',
      /filter\.practiceIds.*expects Practice ids, got a Consultant id/,
    );
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, filter: { skillIds: [globalId('Practice', 1)] } },
      'consultants',
      /filter\.skillIds.*expects Skill ids, got a Practice id/,
    );
    await expectBadUserInput(
      MISSIONS,
      { first: 2, filter: { consultantIds: [globalId('Mission', 1)] } },
      'missions',
      /filter\.consultantIds.*expects Consultant ids, got a Mission id/,
    );
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, filter: { practiceIds: ['garbage'] } },
      'consultants',
      /is not a valid ID/,
    );
  });

  it('rejects IDs whose key is not a record id', async () => {
    for (const key of ['abc', '0', '-3', '1.5', '01', ' 1']) {
      await expectBadUserInput(
        CONSULTANT,
        { id: globalId('Consultant', key) },
        'consultant',
        /does not refer to a valid record id/,
      );
    }
  });

  it('answers null for an id beyond any row', async () => {
    for (const typename of ['Consultant', 'Practice', 'Skill', 'Document', 'Mission']) {
      const id = globalId(typename, 2 ** 31 - 1);
      expect(expectData(await server.query(NODE, { id })).node, typename).toBeNull();
    }
    const id = globalId('Consultant', 2 ** 31 - 1);
    expect(expectData(await server.query(CONSULTANT, { id })).consultant).toBeNull();
  });

  // Ids beyond the int4 range of the serial columns are refused before any SQL.
  it('answers null (or BAD_USER_INPUT) for an id beyond the integer range', async () => {
    for (const key of [2 ** 31, 2 ** 40]) {
      for (const [document, field] of [
        [CONSULTANT, 'consultant'],
        [NODE, 'node'],
      ] as const) {
        const result = await server.query(document, { id: globalId('Consultant', key) });
        const code = result.body.errors?.[0]?.extensions?.code;
        expect(
          code === undefined || code === 'BAD_USER_INPUT',
          `${field} Consultant:${key}: ${result.text}`,
        ).toBe(true);
        expect(result.body.data?.[field] ?? null).toBeNull();
      }
    }
  });
});

describe('other input', () => {
  it('rejects an over-long search and a reversed period', async () => {
    await expectBadUserInput(
      CONSULTANTS,
      { first: 2, filter: { search: 'x'.repeat(201) } },
      'consultants',
      /"filter\.search" must be at most 200 characters/,
    );
    await expectBadUserInput(
      MISSIONS,
      { first: 2, filter: { from: '2024-02-01', to: '2024-01-01' } },
      'missions',
      /"filter\.from" must not be after "filter\.to"/,
    );
  });

  // PostgreSQL text cannot hold NUL.
  it('treats a NUL character in a search as bad input, not a server error', async () => {
    // Refused for every string before execution (use-text-input-check.ts), so no field path.
    const { count, result } = await fewestStatements(server, () =>
      server.query(CONSULTANTS, { first: 2, filter: { search: 'a\u0000b' } }),
    );
    const error = expectOneError(result);
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/\$filter\.search contains a NUL character/);
    expect(count).toBe(0);
  });
});

describe('request errors', () => {
  it('reports a syntax error as GRAPHQL_PARSE_FAILED', async () => {
    const { count, result } = await fewestStatements(server, () =>
      server.query('{ consultants(first: 2) { edges { node { id } }'),
    );
    const error = expectOneError(result);
    expect(error.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(error.message).toMatch(/^Syntax Error/);
    expect(result.body.data).toBeUndefined();
    expect(count).toBe(0);
  });

  it('reports an unknown field as GRAPHQL_VALIDATION_FAILED', async () => {
    const { count, result } = await fewestStatements(server, () =>
      server.query('{ consultants(first: 2) { edges { node { id salary } } } }'),
    );
    const error = expectOneError(result);
    expect(error.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(error.message).toMatch(/Cannot query field "salary" on type "Consultant"/);
    expect(result.body.data).toBeUndefined();
    expect(count).toBe(0);
  });

  it('reports a variable of the wrong type as BAD_USER_INPUT', async () => {
    for (const variables of [{ first: 'ten' }, { filter: { availability: ['SOMETIMES'] } }]) {
      const { count, result } = await fewestStatements(server, () =>
        server.query(CONSULTANTS, variables),
      );
      const error = expectOneError(result);
      expect(error.extensions?.code, result.text).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(/^Variable "\$(first|filter)"/);
      expect(result.body.data ?? null).toBeNull();
      expect(count).toBe(0);
    }
    const { result } = await countStatements(server.sqlCounter, () =>
      server.query(MISSIONS, { filter: { from: '2024-02-30' } }),
    );
    expect(expectOneError(result).extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('unexpected errors', () => {
  it('are masked: "Unexpected error.", INTERNAL_SERVER_ERROR, no SQL and no stack', async () => {
    // A category no other test asks for: the reference cache has nothing for it yet.
    const query = '{ skills(category: "Security") { name category } }';
    await db.query('ALTER TABLE skills RENAME COLUMN category TO category_x');
    try {
      const result = await server.query(query);
      const error = expectOneError(result);
      expect(error.message).toBe('Unexpected error.');
      expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(error.path).toEqual(['skills']);
      expect(result.body.data).toEqual({ skills: null });
      for (const leak of [
        /category_x/,
        /select/i,
        /does not exist/i,
        /column "/i,
        /relation "/i,
        /postgres/i,
        /stack/i,
        /\bat .*:\d+:\d+/,
        /node_modules/,
        /\.ts\b/,
        /originalError/,
      ]) {
        expect(result.text).not.toMatch(leak);
      }
    } finally {
      await db.query('ALTER TABLE skills RENAME COLUMN category_x TO category');
    }
    // The failure left nothing behind: the pool and the server carry on.
    expect(expectData(await server.query(query)).skills.length).toBeGreaterThan(0);
  });
});
