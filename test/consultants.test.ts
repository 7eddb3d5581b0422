import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import { databaseId, expectData, globalId } from './support/graphql.js';
import { type AnyData, startTestServer, type TestServer } from './support/server.js';

/*
 * Reads through the API and checks every answer against a plain SQL query on
 * the same database: the reference is written independently of
 * src/db/queries, so a shared mistake would have to be made twice.
 */

type OrderField = 'LAST_NAME' | 'CREATED_AT' | 'DAILY_RATE' | 'ID';
type Direction = 'ASC' | 'DESC';

interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

interface ConsultantPage {
  totalCount: number;
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: PageInfo;
}

interface ConsultantFilterInput {
  practiceIds?: string[];
  availability?: string[];
  skillIds?: string[];
  search?: string;
}

const ORDER_COLUMN: Record<OrderField, string> = {
  LAST_NAME: 'last_name',
  CREATED_AT: 'created_at',
  DAILY_RATE: 'daily_rate',
  ID: 'id',
};
const ORDER_FIELDS = Object.keys(ORDER_COLUMN) as OrderField[];
const DIRECTIONS: Direction[] = ['ASC', 'DESC'];

const CONSULTANTS_PAGE = /* GraphQL */ `
  query Page(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $filter: ConsultantFilter
    $orderBy: ConsultantOrder
  ) {
    consultants(
      first: $first
      after: $after
      last: $last
      before: $before
      filter: $filter
      orderBy: $orderBy
    ) {
      totalCount
      edges {
        cursor
        node {
          id
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`;

const dispose = disposeAfterAll();
let server: TestServer;
let db: pg.Pool;

/** Fixture rows whose names exercise ties and LIKE metacharacters. */
const TIE_LAST_NAME = 'Tiebreak';
const TIE_RATE = 777;
const TIE_CREATED_AT = '2021-03-04T05:06:07.089Z';
const LITERAL_FIXTURES = [
  ['Cent', '100% Conseil', 'cent.pour@fixtures.test'],
  ['Mille', 'Conseil 1000', 'mille@fixtures.test'],
  ['Under', 'Under_Score', 'under.score@fixtures.test'],
  ['Under', 'UnderXScore', 'underxscore@fixtures.test'],
  ['Back', 'Back\\Slash', 'back.slash@fixtures.test'],
  ['Back', 'BackSlash', 'backslash@fixtures.test'],
  ['Sean', "O'Brien", 'sean.obrien@fixtures.test'],
  ['Sean', 'OBrien', 'sean.obrien2@fixtures.test'],
  // Letters whose case does not map one to one (ß, dotted and dotless i,
  // final sigma, a title-case digraph).
  ['İlkay', 'Straße', 'ilkay.strasse@fixtures.test'],
  ['Σοφίας', 'ǅemal', 'sofia.dzemal@fixtures.test'],
] as const;

beforeAll(async () => {
  const database = await createTestDatabase();
  dispose.add(() => database.drop());
  db = createTestPool(database.url);
  dispose.add(() => db.end());

  // Fixtures go in before the server starts: nothing is cached yet.
  for (let i = 1; i <= 6; i += 1) {
    await db.query(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability, created_at, updated_at)
       VALUES ($1, $2, $3, 1, 'SENIOR', $4, 'AVAILABLE', $5, $5)`,
      [`Tie${i}`, TIE_LAST_NAME, `tie${i}@fixtures.test`, TIE_RATE, TIE_CREATED_AT],
    );
  }
  for (const [firstName, lastName, email] of LITERAL_FIXTURES) {
    await db.query(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
       VALUES ($1, $2, $3, 2, 'CONSULTANT', 500, 'UNAVAILABLE')`,
      [firstName, lastName, email],
    );
  }

  server = await startTestServer({}, { database, disposer: dispose });
});

async function sqlIds(query: string, params: unknown[] = []): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(query, params);
  return rows.map((row) => Number(row.id));
}

function orderBySql(field: OrderField, direction: Direction): string {
  return `${ORDER_COLUMN[field]} ${direction}, id ${direction}`;
}

async function page(variables: Record<string, unknown>): Promise<ConsultantPage> {
  return expectData<{ consultants: ConsultantPage }>(
    await server.query(CONSULTANTS_PAGE, variables),
  ).consultants;
}

const idsOf = (connection: ConsultantPage) =>
  connection.edges.map((edge) => databaseId(edge.node.id, 'Consultant'));

/**
 * Follows cursors to the end of the list (forward: first/after; backward:
 * last/before) and returns the ids in list order, checking every page's
 * size, cursors and pageInfo on the way.
 */
async function walk(options: {
  pageSize: number;
  backward?: boolean;
  filter?: ConsultantFilterInput;
  orderBy?: { field: OrderField; direction: Direction };
}): Promise<{ ids: number[]; pages: number; totalCount: number }> {
  const { pageSize, backward = false, filter, orderBy } = options;
  const collected: number[][] = [];
  let cursor: string | null = null;
  let totalCount = -1;
  for (let index = 0; ; index += 1) {
    expect(index, 'too many pages: the cursors loop').toBeLessThan(1000);
    const connection = await page(
      backward
        ? { last: pageSize, before: cursor, filter, orderBy }
        : { first: pageSize, after: cursor, filter, orderBy },
    );
    const ids = idsOf(connection);
    const { pageInfo } = connection;
    const more = backward ? pageInfo.hasPreviousPage : pageInfo.hasNextPage;
    const behind = backward ? pageInfo.hasNextPage : pageInfo.hasPreviousPage;
    if (totalCount === -1) totalCount = connection.totalCount;
    expect(connection.totalCount, 'totalCount does not depend on the page').toBe(totalCount);
    expect(behind, `page ${index}: rows behind the cursor`).toBe(index > 0);
    expect(ids.length).toBeLessThanOrEqual(pageSize);
    if (more) expect(ids.length, `page ${index} is short but says more follow`).toBe(pageSize);
    expect(pageInfo.startCursor).toBe(connection.edges[0]?.cursor ?? null);
    expect(pageInfo.endCursor).toBe(connection.edges.at(-1)?.cursor ?? null);
    collected.push(ids);
    if (!more) break;
    cursor = backward ? pageInfo.startCursor : pageInfo.endCursor;
    expect(cursor).not.toBeNull();
  }
  if (backward) collected.reverse();
  return { ids: collected.flat(), pages: collected.length, totalCount };
}

describe('consultants: keyset pagination', () => {
  for (const field of ORDER_FIELDS) {
    for (const direction of DIRECTIONS) {
      it(`visits every consultant once, in ${field} ${direction} order, forward and backward`, async () => {
        const expected = await sqlIds(
          `SELECT id FROM consultants ORDER BY ${orderBySql(field, direction)}`,
        );
        expect(expected.length).toBeGreaterThan(100);
        const orderBy = { field, direction };

        const forward = await walk({ pageSize: 7, orderBy });
        expect(forward.ids).toEqual(expected);
        expect(forward.pages).toBe(Math.ceil(expected.length / 7));
        expect(forward.totalCount).toBe(expected.length);

        const backward = await walk({ pageSize: 7, orderBy, backward: true });
        expect(backward.ids).toEqual(expected);
      });
    }
  }

  it('defaults to LAST_NAME ASC and 20 a page', async () => {
    const expected = await sqlIds(`SELECT id FROM consultants ORDER BY last_name, id LIMIT 20`);
    expect(idsOf(await page({}))).toEqual(expected);
  });

  it('reports pageInfo at both ends and beyond them', async () => {
    const count = (await sqlIds('SELECT id FROM consultants')).length;
    const first = await page({ first: 5 });
    expect(first.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });

    const last = await page({ last: 5 });
    expect(last.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    // Forward onto the last page: exactly the remaining rows.
    const tail = await page({ first: 5, after: last.edges[0]?.cursor });
    expect(idsOf(tail)).toEqual(idsOf(last).slice(1));
    expect(tail.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    const afterEnd = await page({ first: 5, after: last.pageInfo.endCursor });
    expect(afterEnd.edges).toEqual([]);
    expect(afterEnd.pageInfo).toEqual({
      hasPreviousPage: true,
      hasNextPage: false,
      startCursor: null,
      endCursor: null,
    });
    expect(afterEnd.totalCount).toBe(count);

    const beforeStart = await page({ last: 5, before: first.pageInfo.startCursor });
    expect(beforeStart.edges).toEqual([]);
    expect(beforeStart.pageInfo).toEqual({
      hasPreviousPage: false,
      hasNextPage: true,
      startCursor: null,
      endCursor: null,
    });

    const forwardBeforeStart = await page({ first: 5, before: first.pageInfo.startCursor });
    expect(forwardBeforeStart.edges).toEqual([]);
    expect(forwardBeforeStart.pageInfo.hasPreviousPage).toBe(false);

    // first: 0 is a valid, empty request.
    const none = await page({ first: 0 });
    expect(none.edges).toEqual([]);
    expect(none.totalCount).toBe(count);
    expect(none.pageInfo.hasNextPage).toBe(true);
  });

  it('takes the rows between two cursors with after and before', async () => {
    const ten = await page({ first: 10 });
    const between = await page({
      first: 100,
      after: ten.edges[1]?.cursor,
      before: ten.edges[7]?.cursor,
    });
    expect(idsOf(between)).toEqual(idsOf(ten).slice(2, 7));
    const betweenBackward = await page({
      last: 3,
      after: ten.edges[1]?.cursor,
      before: ten.edges[7]?.cursor,
    });
    expect(idsOf(betweenBackward)).toEqual(idsOf(ten).slice(4, 7));
    expect(betweenBackward.pageInfo.hasPreviousPage).toBe(true);
  });

  for (const field of ORDER_FIELDS) {
    for (const direction of DIRECTIONS) {
      it(`neither skips nor repeats tied ${field} values (${direction}, pages of 1 and 2)`, async () => {
        const filter = { search: TIE_LAST_NAME };
        const expected = await sqlIds(
          `SELECT id FROM consultants WHERE last_name = $1 ORDER BY ${orderBySql(field, direction)}`,
          [TIE_LAST_NAME],
        );
        expect(expected).toHaveLength(6);
        for (const pageSize of [1, 2]) {
          for (const backward of [false, true]) {
            const { ids } = await walk({
              pageSize,
              backward,
              filter,
              orderBy: { field, direction },
            });
            expect(ids, `pageSize ${pageSize}, ${backward ? 'backward' : 'forward'}`).toEqual(
              expected,
            );
          }
        }
      });
    }
  }

  it('pages across ties inside the whole list too (pages of 2)', async () => {
    const orderBy = { field: 'DAILY_RATE' as const, direction: 'ASC' as const };
    const expected = await sqlIds(`SELECT id FROM consultants ORDER BY daily_rate, id`);
    const { ids } = await walk({ pageSize: 2, orderBy });
    expect(ids).toEqual(expected);
  });
});

describe('consultants: filters', () => {
  let practiceIds: Map<string, number>;

  beforeAll(async () => {
    const { practices } = expectData<{ practices: { id: string; name: string }[] }>(
      await server.query('{ practices { id name } }'),
    );
    practiceIds = new Map(practices.map((p) => [p.name, databaseId(p.id, 'Practice')]));
  });

  /** All matching ids, in the default order, through the API. */
  async function filtered(
    filter: ConsultantFilterInput,
  ): Promise<{ ids: number[]; totalCount: number }> {
    const { ids, totalCount } = await walk({ pageSize: 100, filter });
    return { ids, totalCount };
  }

  it('counts everything without a filter', async () => {
    const [{ count }] = (
      await db.query<{ count: number }>('SELECT count(*)::int AS count FROM consultants')
    ).rows as [{ count: number }];
    expect((await page({ first: 1 })).totalCount).toBe(count);
    expect((await page({ first: 1, filter: {} })).totalCount).toBe(count);
  });

  it('filters by practice (any of)', async () => {
    const chosen = [...practiceIds.values()].slice(0, 2);
    expect(chosen).toHaveLength(2);
    const expected = await sqlIds(
      'SELECT id FROM consultants WHERE practice_id = ANY($1) ORDER BY last_name, id',
      [chosen],
    );
    expect(expected.length).toBeGreaterThan(0);
    const result = await filtered({ practiceIds: chosen.map((id) => globalId('Practice', id)) });
    expect(result.ids).toEqual(expected);
    expect(result.totalCount).toBe(expected.length);
  });

  it.each([
    [['AVAILABLE']],
    [['UNAVAILABLE', 'ON_MISSION']],
    [['AVAILABLE', 'ON_MISSION', 'UNAVAILABLE']],
  ])('filters by availability %j', async (availability) => {
    const expected = await sqlIds(
      'SELECT id FROM consultants WHERE availability::text = ANY($1) ORDER BY last_name, id',
      [availability],
    );
    expect(expected.length).toBeGreaterThan(0);
    const result = await filtered({ availability });
    expect(result.ids).toEqual(expected);
    expect(result.totalCount).toBe(expected.length);
  });

  /** Consultants having every skill in `skills` (relational division). */
  async function havingAllSkills(skills: number[]): Promise<number[]> {
    return sqlIds(
      `SELECT c.id FROM consultants c
       WHERE NOT EXISTS (
         SELECT 1 FROM unnest($1::int[]) AS wanted(skill_id)
         WHERE NOT EXISTS (
           SELECT 1 FROM consultant_skills cs WHERE cs.consultant_id = c.id AND cs.skill_id = wanted.skill_id))
       ORDER BY c.last_name, c.id`,
      [skills],
    );
  }

  it('filters by skills: consultants having ALL of them', async () => {
    // Two skills held together by several consultants, but not by everyone holding one of them.
    const { rows } = await db.query<{ a: number; b: number }>(
      `SELECT x.skill_id AS a, y.skill_id AS b
       FROM consultant_skills x JOIN consultant_skills y
         ON y.consultant_id = x.consultant_id AND y.skill_id > x.skill_id
       GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1`,
    );
    const pair = rows[0];
    if (!pair) throw new Error('the seed has no consultant with two skills');
    const both = await havingAllSkills([pair.a, pair.b]);
    const onlyA = await havingAllSkills([pair.a]);
    expect(both.length).toBeGreaterThan(1);
    expect(onlyA.length).toBeGreaterThan(both.length);

    const skillIds = [pair.a, pair.b].map((id) => globalId('Skill', id));
    const result = await filtered({ skillIds });
    expect(result.ids).toEqual(both);
    expect(result.totalCount).toBe(both.length);
    expect((await filtered({ skillIds: [skillIds[0] as string] })).ids).toEqual(onlyA);
    // Naming a skill twice asks for nothing more.
    expect((await filtered({ skillIds: [...skillIds, skillIds[0] as string] })).ids).toEqual(both);

    // Three skills nobody has together: an empty list, not an error.
    const { rows: rare } = await db.query<{ id: number }>(
      `SELECT s.id FROM skills s LEFT JOIN consultant_skills cs ON cs.skill_id = s.id
       GROUP BY s.id HAVING count(cs.consultant_id) = 0 LIMIT 1`,
    );
    if (rare[0]) {
      const none = await filtered({ skillIds: [...skillIds, globalId('Skill', rare[0].id)] });
      expect(none).toEqual({ ids: [], totalCount: 0 });
    }
  });

  /**
   * What `search` must match: a literal, case-insensitive substring of the
   * name or email; without an orderBy, in the order consultants were added (id).
   */
  async function searchReference(text: string): Promise<number[]> {
    return sqlIds(
      `SELECT id FROM consultants
       WHERE strpos(lower(first_name), lower($1)) > 0
          OR strpos(lower(last_name), lower($1)) > 0
          OR strpos(lower(email), lower($1)) > 0
       ORDER BY id`,
      [text],
    );
  }

  it('searches first name, last name and email, case-insensitively', async () => {
    type Row = { first_name: string; last_name: string; email: string };
    const { rows } = await db.query<Row>(
      'SELECT first_name, last_name, email FROM consultants ORDER BY id LIMIT 1',
    );
    const someone = rows[0];
    if (!someone) throw new Error('no seeded consultant');
    const [local, domain] = someone.email.split('@') as [string, string];
    // Accented capitals fold too (French names: "RÉGINE" finds "Régine").
    const accented = (
      await db.query<Row>(
        `SELECT first_name, last_name, email FROM consultants
         WHERE first_name ~ '[À-ÖØ-öø-ÿ]' ORDER BY id LIMIT 1`,
      )
    ).rows[0];
    const texts = [
      someone.last_name.toUpperCase(),
      someone.last_name.toLowerCase().slice(1, 4),
      someone.first_name.toLowerCase(),
      local.toUpperCase(),
      domain.toUpperCase(),
      'zzzz-nobody',
    ];
    if (accented) texts.push(accented.first_name.toUpperCase());
    for (const text of texts) {
      const expected = await searchReference(text);
      const result = await filtered({ search: text });
      expect(result.ids, `search ${JSON.stringify(text)}`).toEqual(expected);
      expect(result.totalCount).toBe(expected.length);
      if (text !== 'zzzz-nobody') expect(expected.length, text).toBeGreaterThan(0);
    }
    expect(accented, 'the seed has accented first names').toBeDefined();
  });

  it('orders a search by id unless an order is given, then by that order', async () => {
    const text = 'ar';
    const byId = await searchReference(text);
    expect(byId.length).toBeGreaterThan(10);
    expect((await walk({ pageSize: 7, filter: { search: text } })).ids).toEqual(byId);
    const byLastName = await sqlIds(
      `SELECT id FROM consultants WHERE id = ANY($1) ORDER BY last_name DESC, id DESC`,
      [byId],
    );
    expect(byLastName).not.toEqual(byId);
    const walked = await walk({
      pageSize: 7,
      filter: { search: text },
      orderBy: { field: 'LAST_NAME', direction: 'DESC' },
    });
    expect(walked.ids).toEqual(byLastName);
  });

  it('matches exactly what ILIKE on the name and email matches, on letters whose case folds unusually', async () => {
    // The search compares a lower-cased copy kept in the row with LIKE
    // (consultants.search_text); ILIKE over the concatenation is the meaning
    // it must keep.
    const texts = [
      'STRASSE',
      'straße',
      'STRAßE',
      'İLKAY',
      'i̇lkay',
      'ılkay',
      'ilkay',
      'ΣΟΦΊΑΣ',
      'σοφίας',
      'ǄEMAL',
      'ǆemal',
      'ǅe',
    ];
    let found = 0;
    for (const text of texts) {
      const expected = await sqlIds(
        `SELECT id FROM consultants
         WHERE (first_name || ' ' || last_name || ' ' || email) ILIKE '%' || $1 || '%'
         ORDER BY id`,
        [text],
      );
      const result = await filtered({ search: text });
      expect(result.ids, `search ${JSON.stringify(text)}`).toEqual(expected);
      found += expected.length;
    }
    expect(found, 'some of these fragments find the fixtures').toBeGreaterThan(0);
  });

  it.each([
    ['%', ['100% Conseil']],
    ['100%', ['100% Conseil']],
    ['_', ['Under_Score']],
    ['under_score', ['Under_Score']],
    ['\\', ['Back\\Slash']],
    ['back\\slash', ['Back\\Slash']],
    ["o'brien", ["O'Brien"]],
    ["'", null],
  ])('matches %j literally', async (text, mustFind) => {
    const expected = await searchReference(text);
    const result = await filtered({ search: text });
    expect(result.ids).toEqual(expected);
    expect(result.totalCount).toBe(expected.length);

    const { rows } = await db.query<{ last_name: string }>(
      'SELECT last_name FROM consultants WHERE id = ANY($1)',
      [result.ids],
    );
    const names = rows.map((row) => row.last_name);
    if (mustFind) {
      for (const name of mustFind) expect(names).toContain(name);
      // The look-alikes a wildcard would also have matched stay out.
      for (const decoy of ['Conseil 1000', 'UnderXScore', 'BackSlash', 'OBrien']) {
        expect(names).not.toContain(decoy);
      }
    }
    // Sanity: the metacharacters really are rare, so a wildcard bug would show.
    expect(result.ids.length).toBeLessThan(10);
    expect(result.ids.length).toBeGreaterThan(0);
  });

  it('combines filters, order and pagination', async () => {
    const practice = practiceIds.get('Data & AI') ?? [...practiceIds.values()][0];
    const availability = ['AVAILABLE', 'ON_MISSION'];
    const search = 'e';
    const expected = await sqlIds(
      `SELECT id FROM consultants
       WHERE practice_id = $1 AND availability::text = ANY($2)
         AND (strpos(lower(first_name), $3) > 0 OR strpos(lower(last_name), $3) > 0 OR strpos(lower(email), $3) > 0)
       ORDER BY daily_rate DESC, id DESC`,
      [practice, availability, search],
    );
    expect(expected.length).toBeGreaterThan(4);
    const filter = {
      practiceIds: [globalId('Practice', practice as number)],
      availability,
      search,
    };
    const orderBy = { field: 'DAILY_RATE' as const, direction: 'DESC' as const };
    for (const backward of [false, true]) {
      const result = await walk({ pageSize: 3, backward, filter, orderBy });
      expect(result.ids).toEqual(expected);
      expect(result.totalCount).toBe(expected.length);
    }
  });
});

describe('objects by id', () => {
  it('finds a consultant by global ID, with consultant(id) and node(id)', async () => {
    const { rows } = await db.query<{ id: number; first_name: string; email: string }>(
      'SELECT id, first_name, email FROM consultants ORDER BY id LIMIT 1 OFFSET 3',
    );
    const row = rows[0] as { id: number; first_name: string; email: string };
    const id = globalId('Consultant', row.id);
    const data = expectData(
      await server.query(
        `query ($id: ID!) {
          consultant(id: $id) { id firstName email }
          node(id: $id) { __typename id ... on Consultant { email } }
        }`,
        { id },
      ),
    );
    expect(data.consultant).toEqual({ id, firstName: row.first_name, email: row.email });
    expect(data.node).toEqual({ __typename: 'Consultant', id, email: row.email });
  });

  it('resolves node(id) for every node type', async () => {
    const one = async (query: string) =>
      (await db.query<{ id: number; label: string }>(query)).rows[0] as {
        id: number;
        label: string;
      };
    const cases = [
      [
        'Consultant',
        await one('SELECT id, email AS label FROM consultants ORDER BY id LIMIT 1'),
        'email',
      ],
      [
        'Practice',
        await one('SELECT id, name AS label FROM practices ORDER BY id LIMIT 1'),
        'name',
      ],
      ['Skill', await one('SELECT id, name AS label FROM skills ORDER BY id DESC LIMIT 1'), 'name'],
      [
        'Mission',
        await one('SELECT id, title AS label FROM missions ORDER BY id LIMIT 1 OFFSET 7'),
        'title',
      ],
      [
        'Document',
        await one('SELECT id, name AS label FROM documents ORDER BY id LIMIT 1 OFFSET 2'),
        'name',
      ],
    ] as const;
    for (const [typename, row, field] of cases) {
      const id = globalId(typename, row.id);
      const data = expectData(
        await server.query(
          `query ($id: ID!) { node(id: $id) { __typename id ... on ${typename} { ${field} } } }`,
          { id },
        ),
      );
      expect(data.node, typename).toEqual({ __typename: typename, id, [field]: row.label });
    }
  });

  it('answers null for a well-formed id that matches nothing', async () => {
    const { rows } = await db.query<{ max: number }>('SELECT max(id)::int AS max FROM consultants');
    const missing = (rows[0]?.max ?? 0) + 1000;
    for (const typename of ['Consultant', 'Practice', 'Skill', 'Mission', 'Document']) {
      const id = globalId(typename, missing);
      const data = expectData(
        await server.query(
          `query ($id: ID!) { node(id: $id) { id } ${typename === 'Consultant' ? 'consultant(id: $id) { id }' : ''} }`,
          { id },
        ),
      );
      expect(data.node, typename).toBeNull();
      if (typename === 'Consultant') expect(data.consultant).toBeNull();
    }
  });
});

describe('nested fields', () => {
  const NESTED = /* GraphQL */ `
    query Nested($first: Int!, $missions: Int!) {
      consultants(first: $first) {
        edges {
          node {
            id
            practice { id name }
            skills { level skill { id name } }
            documents { id uploadedAt }
            currentMission { id status }
            missions(first: $missions) {
              totalCount
              edges { node { id startDate consultant { id } } }
              pageInfo { hasNextPage hasPreviousPage }
            }
          }
        }
      }
    }
  `;

  it('resolves practice, skills, documents, currentMission and missions for a whole page', async () => {
    const data = expectData(await server.query(NESTED, { first: 60, missions: 3 }));
    const edges = data.consultants.edges as { node: AnyConsultant }[];
    expect(edges).toHaveLength(60);
    let sawMission = false;
    let sawNoMission = false;
    let sawSkills = false;
    let sawDocuments = false;
    for (const { node } of edges) {
      const id = databaseId(node.id, 'Consultant');
      const context = `consultant ${id}`;

      const practice = (
        await db.query<{ id: number; name: string }>(
          'SELECT p.id, p.name FROM practices p JOIN consultants c ON c.practice_id = p.id WHERE c.id = $1',
          [id],
        )
      ).rows[0];
      expect(node.practice, context).toEqual({
        id: globalId('Practice', practice?.id ?? 0),
        name: practice?.name,
      });

      const skills = (
        await db.query<{ id: number; name: string; level: number }>(
          `SELECT s.id, s.name, cs.level FROM consultant_skills cs JOIN skills s ON s.id = cs.skill_id
           WHERE cs.consultant_id = $1`,
          [id],
        )
      ).rows;
      const levels = node.skills.map((s) => s.level);
      expect(levels, `${context}: strongest first`).toEqual([...levels].sort((a, b) => b - a));
      const bySkill = (a: { skill: { id: string } }, b: { skill: { id: string } }) =>
        a.skill.id.localeCompare(b.skill.id);
      expect([...node.skills].sort(bySkill), context).toEqual(
        skills
          .map((s) => ({ level: s.level, skill: { id: globalId('Skill', s.id), name: s.name } }))
          .sort(bySkill),
      );
      sawSkills ||= skills.length > 1;

      const documents = await sqlIds(
        'SELECT id FROM documents WHERE consultant_id = $1 ORDER BY uploaded_at DESC, id',
        [id],
      );
      expect(
        node.documents.map((d) => databaseId(d.id, 'Document')),
        `${context}: documents`,
      ).toEqual(documents);
      sawDocuments ||= documents.length > 1;

      const active = await sqlIds(
        `SELECT id FROM missions WHERE consultant_id = $1 AND status = 'ACTIVE'
         ORDER BY start_date DESC, id DESC LIMIT 1`,
        [id],
      );
      if (active[0] === undefined) {
        expect(node.currentMission, context).toBeNull();
        sawNoMission = true;
      } else {
        expect(node.currentMission, context).toEqual({
          id: globalId('Mission', active[0]),
          status: 'ACTIVE',
        });
        sawMission = true;
      }

      const missions = await sqlIds(
        'SELECT id FROM missions WHERE consultant_id = $1 ORDER BY start_date DESC, id DESC',
        [id],
      );
      expect(node.missions.totalCount, context).toBe(missions.length);
      expect(
        node.missions.edges.map((e) => databaseId(e.node.id, 'Mission')),
        context,
      ).toEqual(missions.slice(0, 3));
      expect(node.missions.pageInfo, context).toEqual({
        hasNextPage: missions.length > 3,
        hasPreviousPage: false,
      });
      for (const edge of node.missions.edges) expect(edge.node.consultant.id).toBe(node.id);
    }
    // The page is only a good test if it holds every case.
    expect({ sawMission, sawNoMission, sawSkills, sawDocuments }).toEqual({
      sawMission: true,
      sawNoMission: true,
      sawSkills: true,
      sawDocuments: true,
    });
  });

  it("pages through one consultant's missions, newest first", async () => {
    const { rows } = await db.query<{ consultant_id: number }>(
      'SELECT consultant_id FROM missions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1',
    );
    const consultantId = rows[0]?.consultant_id as number;
    const expected = await sqlIds(
      'SELECT id FROM missions WHERE consultant_id = $1 ORDER BY start_date DESC, id DESC',
      [consultantId],
    );
    expect(expected.length).toBeGreaterThan(4);

    const collected: number[] = [];
    let after: string | null = null;
    for (let index = 0; ; index += 1) {
      expect(index).toBeLessThan(100);
      const data: AnyData = expectData(
        await server.query(
          `query ($id: ID!, $after: String) {
            consultant(id: $id) {
              missions(first: 2, after: $after) {
                totalCount
                edges { cursor node { id } }
                pageInfo { hasNextPage hasPreviousPage endCursor }
              }
            }
          }`,
          { id: globalId('Consultant', consultantId), after },
        ),
      );
      const missions: AnyData = data.consultant.missions;
      expect(missions.totalCount).toBe(expected.length);
      expect(missions.pageInfo.hasPreviousPage).toBe(index > 0);
      collected.push(
        ...missions.edges.map((edge: { node: { id: string } }) =>
          databaseId(edge.node.id, 'Mission'),
        ),
      );
      if (!missions.pageInfo.hasNextPage) break;
      after = missions.pageInfo.endCursor;
    }
    expect(collected).toEqual(expected);
  });
});

interface AnyConsultant {
  id: string;
  practice: { id: string; name: string };
  skills: { level: number; skill: { id: string; name: string } }[];
  documents: { id: string }[];
  currentMission: { id: string; status: string } | null;
  missions: {
    totalCount: number;
    edges: { node: { id: string; startDate: string; consultant: { id: string } } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean };
  };
}

describe('missions', () => {
  const MISSIONS_PAGE = /* GraphQL */ `
    query Missions(
      $first: Int
      $after: String
      $last: Int
      $before: String
      $filter: MissionFilter
      $orderBy: MissionOrder
    ) {
      missions(
        first: $first
        after: $after
        last: $last
        before: $before
        filter: $filter
        orderBy: $orderBy
      ) {
        totalCount
        edges { cursor node { id startDate endDate status consultant { id } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  `;

  interface MissionFilterInput {
    consultantIds?: string[];
    statuses?: string[];
    from?: string;
    to?: string;
  }

  async function walkMissions(options: {
    pageSize: number;
    backward?: boolean;
    filter?: MissionFilterInput;
    direction?: Direction;
  }) {
    const { pageSize, backward = false, filter, direction } = options;
    const collected: number[][] = [];
    const consultantOf = new Map<number, number>();
    let cursor: string | null = null;
    let totalCount = -1;
    for (let index = 0; ; index += 1) {
      expect(index).toBeLessThan(1000);
      const orderBy = direction ? { direction } : undefined;
      const data: AnyData = expectData(
        await server.query(
          MISSIONS_PAGE,
          backward
            ? { last: pageSize, before: cursor, filter, orderBy }
            : { first: pageSize, after: cursor, filter, orderBy },
        ),
      );
      const connection: AnyData = data.missions;
      const ids = connection.edges.map(
        (edge: { node: { id: string; consultant: { id: string } } }) => {
          const id = databaseId(edge.node.id, 'Mission');
          consultantOf.set(id, databaseId(edge.node.consultant.id, 'Consultant'));
          return id;
        },
      );
      if (totalCount === -1) totalCount = connection.totalCount;
      const more = backward ? connection.pageInfo.hasPreviousPage : connection.pageInfo.hasNextPage;
      const behind = backward
        ? connection.pageInfo.hasNextPage
        : connection.pageInfo.hasPreviousPage;
      expect(behind, `page ${index}`).toBe(index > 0);
      if (more) expect(ids).toHaveLength(pageSize);
      collected.push(ids);
      if (!more) break;
      cursor = backward ? connection.pageInfo.startCursor : connection.pageInfo.endCursor;
    }
    if (backward) collected.reverse();
    return { ids: collected.flat(), totalCount, consultantOf };
  }

  it.each(['DESC', 'ASC'] as const)(
    'lists every mission once by start date %s, forward and backward, with its consultant',
    async (direction) => {
      const { rows } = await db.query<{ id: string; consultant_id: number }>(
        `SELECT id, consultant_id FROM missions ORDER BY start_date ${direction}, id ${direction}`,
      );
      const expected = rows.map((row) => Number(row.id));
      const forward = await walkMissions({ pageSize: 100, direction });
      expect(forward.ids).toEqual(expected);
      expect(forward.totalCount).toBe(expected.length);
      for (const row of rows)
        expect(forward.consultantOf.get(Number(row.id))).toBe(row.consultant_id);
      const backward = await walkMissions({ pageSize: 100, direction, backward: true });
      expect(backward.ids).toEqual(expected);
    },
  );

  it('orders newest first by default and pages across equal start dates', async () => {
    const expected = await sqlIds(
      `SELECT id FROM missions WHERE status IN ('ACTIVE', 'PLANNED') ORDER BY start_date DESC, id DESC`,
    );
    const ties = await sqlIds(
      `SELECT 1 AS id FROM missions GROUP BY start_date HAVING count(*) > 1 LIMIT 1`,
    );
    expect(ties, 'the seed has missions sharing a start date').toHaveLength(1);
    const { ids } = await walkMissions({
      pageSize: 3,
      filter: { statuses: ['ACTIVE', 'PLANNED'] },
    });
    expect(ids).toEqual(expected);
    // Ties in the whole list, small pages.
    const all = await sqlIds('SELECT id FROM missions ORDER BY start_date DESC, id DESC');
    expect((await walkMissions({ pageSize: 47 })).ids).toEqual(all);
  });

  it('filters by consultants and statuses', async () => {
    const consultants = await sqlIds(
      'SELECT consultant_id AS id FROM missions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 3',
    );
    const statuses = ['COMPLETED', 'CANCELLED'];
    const expected = await sqlIds(
      `SELECT id FROM missions WHERE consultant_id = ANY($1) AND status::text = ANY($2)
       ORDER BY start_date ASC, id ASC`,
      [consultants, statuses],
    );
    expect(expected.length).toBeGreaterThan(3);
    const filter = { consultantIds: consultants.map((id) => globalId('Consultant', id)), statuses };
    for (const backward of [false, true]) {
      const result = await walkMissions({ pageSize: 4, backward, filter, direction: 'ASC' });
      expect(result.ids).toEqual(expected);
      expect(result.totalCount).toBe(expected.length);
    }
  });

  it('filters by period: missions overlapping [from, to], ongoing ones never ending', async () => {
    // Bounds taken from the data, so the inclusive edges are exercised.
    const { rows } = await db.query<{ from: string; to: string }>(
      `SELECT (SELECT end_date::text FROM missions WHERE end_date IS NOT NULL ORDER BY end_date LIMIT 1 OFFSET 200) AS from,
              (SELECT start_date::text FROM missions ORDER BY start_date LIMIT 1 OFFSET 400) AS to`,
    );
    const { from, to } = rows[0] as { from: string; to: string };
    expect(from < to).toBe(true);
    const overlapping = (where: string, params: unknown[]) =>
      sqlIds(`SELECT id FROM missions WHERE ${where} ORDER BY start_date DESC, id DESC`, params);

    const cases: [MissionFilterInput, number[]][] = [
      [{ from }, await overlapping('coalesce(end_date, $1::date) >= $1::date', [from])],
      [{ to }, await overlapping('start_date <= $1::date', [to])],
      [
        { from, to },
        await overlapping(
          'daterange(start_date, end_date, $3) && daterange($1::date, $2::date, $3)',
          [from, to, '[]'],
        ),
      ],
      [
        { from: to, to },
        await overlapping('daterange(start_date, end_date, $2) @> $1::date', [to, '[]']),
      ],
      [
        { from, to, statuses: ['ACTIVE'] },
        await overlapping(
          `status = 'ACTIVE' AND daterange(start_date, end_date, $3) && daterange($1::date, $2::date, $3)`,
          [from, to, '[]'],
        ),
      ],
    ];
    // The edges themselves: a mission ending on `from`, one starting on `to`.
    const endsOnFrom = await sqlIds('SELECT id FROM missions WHERE end_date = $1::date', [from]);
    const startsOnTo = await sqlIds('SELECT id FROM missions WHERE start_date = $1::date', [to]);
    const ongoing = await sqlIds(
      `SELECT id FROM missions WHERE end_date IS NULL AND start_date <= $1::date`,
      [to],
    );
    expect(endsOnFrom.length * startsOnTo.length * ongoing.length).toBeGreaterThan(0);

    for (const [filter, expected] of cases) {
      expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
      const result = await walkMissions({ pageSize: 100, filter });
      expect(result.ids, JSON.stringify(filter)).toEqual(expected);
      expect(result.totalCount).toBe(expected.length);
      if (filter.from && filter.to && filter.from !== filter.to && !filter.statuses) {
        for (const id of [...endsOnFrom, ...startsOnTo, ...ongoing])
          expect(result.ids).toContain(id);
      }
    }
  });
});
