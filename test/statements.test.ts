import { beforeAll, describe, expect, it } from 'vitest';
import { disposeAfterAll } from './support/dispose.js';
import { expectData } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';
import { countStatements, describeStatements } from './support/sql.js';

/*
 * DataLoader batching, proved by counting: the statements a page costs must
 * not grow with the page size. A count that moves means an N+1 crept in (or a
 * batch was split); update the constant only for a deliberate change.
 */

/**
 * consultants page (which reads each consultant's skills and first mission
 * page along) + totalCount + practices + the skills catalogue (names and
 * their order) + current missions: one statement each.
 */
const CONSULTANT_PAGE_STATEMENTS = 5;
/** root missions page + their consultants. */
const MISSION_PAGE_STATEMENTS = 2;

const dispose = disposeAfterAll();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, { disposer: dispose });
  // The start-up stats work can pause longer than the default quiet period on
  // a busy machine and then land inside a measured request: wait it out.
  await server.waitForIdle(1_000);
});

const consultantsQuery = (withTotalCount: boolean) => /* GraphQL */ `
  query ($first: Int!, $after: String) {
    consultants(first: $first, after: $after) {
      ${withTotalCount ? 'totalCount' : ''}
      pageInfo { endCursor }
      edges {
        node {
          practice { name }
          skills { level skill { name } }
          missions(first: 3) { edges { node { title } } }
          currentMission { title }
        }
      }
    }
  }
`;

/**
 * Counts the statements of one request. The cross-request caches (totalCount,
 * search pages) are emptied first unless `warm`: this measures what a page
 * costs the database, not what a cache hit costs.
 */
async function measure(
  document: string,
  variables: Record<string, unknown>,
  { warm = false }: { warm?: boolean } = {},
) {
  if (!warm) server.clearCaches();
  const { count, statements, result } = await countStatements(server.sqlCounter, () =>
    server.query(document, variables),
  );
  return { count, statements, data: expectData(result) };
}

describe('statements per page', () => {
  it.each([10, 50, 100])(
    'a page of %i consultants with nested fields costs a constant',
    async (n) => {
      const { count, statements, data } = await measure(consultantsQuery(true), { first: n });
      expect(data.consultants.edges).toHaveLength(n);
      console.log(`consultants(first: ${n}) with totalCount: ${count} statements`);
      expect(count, describeStatements(statements)).toBe(CONSULTANT_PAGE_STATEMENTS);

      const without = await measure(consultantsQuery(false), { first: n });
      console.log(`consultants(first: ${n}) without totalCount: ${without.count} statements`);
      expect(without.count, describeStatements(without.statements)).toBe(
        CONSULTANT_PAGE_STATEMENTS - 1,
      );

      // Asked again, the count, the practices and the skills catalogue come from the
      // cross-request caches: the page (with skills and mission pages) and current missions remain.
      await measure(consultantsQuery(true), { first: n });
      const warm = await measure(consultantsQuery(true), { first: n }, { warm: true });
      console.log(`consultants(first: ${n}) with warm caches: ${warm.count} statements`);
      expect(warm.count, describeStatements(warm.statements)).toBe(CONSULTANT_PAGE_STATEMENTS - 3);
      expect(warm.statements.some((text) => /from "(practices|skills)"/.test(text))).toBe(false);
    },
  );

  it("reads a page's skills and first missions in the page's own statement, as the loaders would", async () => {
    const children = /* GraphQL */ `
      skills { level skill { id name category } }
      missions(first: $missions) {
        edges {
          cursor
          node { id client title startDate endDate dailyRate status createdAt updatedAt }
        }
        pageInfo { hasNextPage hasPreviousPage endCursor }
      }`;
    const pageQuery = /* GraphQL */ `
      query ($after: String, $missions: Int!) {
        consultants(first: 30, after: $after) {
          pageInfo { endCursor }
          edges { node { id ${children} } }
        }
      }`;
    // The same children through the loaders: by id, outside any page.
    const byIdQuery = /* GraphQL */ `
      query ($ids: [ID!]!, $missions: Int!) {
        nodes(ids: $ids) { ... on Consultant { id ${children} } }
      }`;
    const start = await measure(pageQuery, { missions: 1 });
    const after = start.data.consultants.pageInfo.endCursor as string;
    for (const missions of [0, 2, 5]) {
      // Practices warm: what remains is the page statement alone.
      await measure(pageQuery, { after: null, missions });
      const page = await measure(pageQuery, { after: null, missions }, { warm: true });
      expect(page.count, describeStatements(page.statements)).toBe(1);
      const nodes = page.data.consultants.edges.map((edge: { node: unknown }) => edge.node);
      const byId = await measure(byIdQuery, {
        ids: nodes.map((node: { id: string }) => node.id),
        missions,
      });
      // The loaders' way: consultants by id, then one batch each of skills and mission pages.
      expect(byId.count, describeStatements(byId.statements)).toBe(3);
      expect(nodes).toEqual(byId.data.nodes);
      const counts = nodes.map(
        (node: { missions: { edges: unknown[] } }) => node.missions.edges.length,
      );
      expect(Math.max(...counts)).toBe(missions);
      // And from a cursor, the same holds.
      const later = await measure(pageQuery, { after, missions });
      const laterNodes = later.data.consultants.edges.map((edge: { node: unknown }) => edge.node);
      const laterById = await measure(byIdQuery, {
        ids: laterNodes.map((node: { id: string }) => node.id),
        missions,
      });
      expect(laterNodes).toEqual(laterById.data.nodes);
    }
  });

  it('reads along the mission columns every selection of the page reads, fragments and aliases included', async () => {
    const children = /* GraphQL */ `
      titles: missions(first: 2) { edges { node { title } } }
      details: missions(first: 2) { edges { node { ...Details } } }`;
    const fragment = /* GraphQL */ `
      fragment Details on Mission { status createdAt ... on Mission { endDate } }`;
    const page = await measure(
      `{ consultants(first: 20) { edges { node { id ${children} } } } } ${fragment}`,
      {},
    );
    expect(page.statements.some((text) => /from "missions"/.test(text))).toBe(false);
    const nodes = page.data.consultants.edges.map((edge: { node: unknown }) => edge.node);
    const byId = await measure(
      `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Consultant { id ${children} } } } ${fragment}`,
      { ids: nodes.map((node: { id: string }) => node.id) },
    );
    expect(nodes).toEqual(byId.data.nodes);
    expect(
      nodes.some((node: { details: { edges: { node: { status: string } }[] } }) =>
        node.details.edges.some((edge) => typeof edge.node.status === 'string'),
      ),
    ).toBe(true);
  });

  it("serves what a page read along to that page's rows only, never to another path of the request", async () => {
    // The page reads its missions' titles only; through Mission.consultant, resolved after the
    // page, the same consultants' first missions are asked for again with statuses and pageInfo.
    const { data } = await measure(
      `{
        consultants(first: 10) {
          edges {
            node {
              id
              missions(first: 3) {
                edges {
                  node {
                    title
                    consultant {
                      missions(first: 3) { edges { node { title status } } pageInfo { hasNextPage } }
                    }
                  }
                }
              }
            }
          }
        }
      }`,
      {},
    );
    type Again = { edges: { node: { title: string; status: string } }[]; pageInfo: unknown };
    const nodes = data.consultants.edges.map(
      (edge: {
        node: { id: string; missions: { edges: { node: { consultant: { missions: Again } } }[] } };
      }) => edge.node,
    );
    const withMissions = nodes.filter(
      (node: { missions: { edges: unknown[] } }) => node.missions.edges.length > 0,
    );
    expect(withMissions.length).toBeGreaterThan(0);
    for (const node of withMissions) {
      const again = node.missions.edges[0].node.consultant.missions as Again;
      const alone = await measure(
        `query ($id: ID!) {
          consultant(id: $id) {
            missions(first: 3) { edges { node { title status } } pageInfo { hasNextPage } }
          }
        }`,
        { id: node.id },
      );
      expect(again).toEqual(alone.data.consultant.missions);
      expect(again.edges.every((edge) => typeof edge.node.status === 'string')).toBe(true);
    }
  });

  it('leaves to the loaders the mission pages a page statement cannot read along', async () => {
    // Two different first pages of missions, and a page after a cursor: each is its own loader batch.
    const query = /* GraphQL */ `
      query ($cursor: String!) {
        consultants(first: 20) {
          edges {
            node {
              skills { level }
              three: missions(first: 3) { edges { node { id } } }
              four: missions(first: 4) { edges { node { id } } }
              later: missions(first: 2, after: $cursor) { edges { node { id } } }
            }
          }
        }
      }`;
    const cursor = Buffer.from(JSON.stringify(['START_DATE', '9999-01-01', 1])).toString(
      'base64url',
    );
    await measure(query, { cursor });
    const { count, statements, data } = await measure(query, { cursor }, { warm: true });
    // The page (with skills), then one batch of mission pages for the three selections.
    expect(count, describeStatements(statements)).toBe(2);
    for (const { node } of data.consultants.edges) {
      const ids = (list: { edges: { node: { id: string } }[] }) => list.edges.map((e) => e.node.id);
      expect(ids(node.four).slice(0, 3)).toEqual(ids(node.three));
      expect(ids(node.later)).toEqual(ids(node.four).slice(0, 2));
    }
  });

  it('runs request statements without parallel workers', async () => {
    // A parallel plan starts its workers even for a branch it then skips (a search's fallback).
    const { rows } = await (server.app.pool as NonNullable<typeof server.app.pool>).query<{
      max_parallel_workers_per_gather: string;
    }>('SHOW max_parallel_workers_per_gather');
    expect(rows[0]?.max_parallel_workers_per_gather).toBe('0');
  });

  it('costs the same on a later page (after a cursor)', async () => {
    const first = await measure(consultantsQuery(true), { first: 20 });
    const next = await measure(consultantsQuery(true), {
      first: 20,
      after: first.data.consultants.pageInfo.endCursor,
    });
    expect(next.data.consultants.edges).toHaveLength(20);
    expect(next.count, describeStatements(next.statements)).toBe(CONSULTANT_PAGE_STATEMENTS);
  });

  it('batches Mission.consultant on the root missions list', async () => {
    const query = /* GraphQL */ `
      query ($first: Int!) {
        missions(first: $first) {
          edges { node { title consultant { lastName practice { name } } } }
        }
      }
    `;
    for (const first of [10, 100]) {
      const { count, statements, data } = await measure(query.replace('practice { name } ', ''), {
        first,
      });
      expect(data.missions.edges).toHaveLength(first);
      console.log(`missions(first: ${first}) { consultant }: ${count} statements`);
      expect(count, describeStatements(statements)).toBe(MISSION_PAGE_STATEMENTS);
    }
    // One level deeper, one more batch: still not one per row.
    const deeper = await measure(query, { first: 100 });
    expect(deeper.count, describeStatements(deeper.statements)).toBe(MISSION_PAGE_STATEMENTS + 1);
  });

  it('runs only the count for a totalCount-only request', async () => {
    const counts = [
      /* GraphQL */ `{ consultants(first: 5) { totalCount } }`,
      /* GraphQL */ `{ consultants(first: 5, filter: { availability: [AVAILABLE] }) { totalCount } }`,
      /* GraphQL */ `{ missions(first: 5) { totalCount } }`,
      // Through a fragment, as a client library may write it.
      /* GraphQL */ `{ consultants(first: 5) { ...Count } } fragment Count on QueryConsultantsConnection { totalCount }`,
    ];
    for (const query of counts) {
      const { count, statements, data } = await measure(query, {});
      expect((Object.values(data)[0] as { totalCount: number }).totalCount).toBeGreaterThan(0);
      expect(count, `${query}\n${describeStatements(statements)}`).toBe(1);
      expect(statements[0]).toMatch(/count\(\*\)/);
    }
    // Per consultant: the page, then one batched count for all of them, no mission page.
    const nested = await measure(
      /* GraphQL */ `{ consultants(first: 20) { edges { node { missions(first: 3) { totalCount } } } } }`,
      {},
    );
    expect(nested.data.consultants.edges).toHaveLength(20);
    expect(nested.count, describeStatements(nested.statements)).toBe(2);
  });

  it('runs only the page query for a pageInfo-only request', async () => {
    for (const query of [
      /* GraphQL */ `{ consultants(first: 5) { pageInfo { hasNextPage endCursor } } }`,
      /* GraphQL */ `{ missions(first: 5) { pageInfo { hasNextPage } } }`,
    ]) {
      const { count, statements, data } = await measure(query, {});
      expect(
        (Object.values(data)[0] as { pageInfo: { hasNextPage: boolean } }).pageInfo.hasNextPage,
      ).toBe(true);
      expect(count, describeStatements(statements)).toBe(1);
      expect(statements[0]).not.toMatch(/count\(\*\)/);
    }
  });

  it('sends nothing while idle', async () => {
    const before = server.sqlCounter.total;
    await server.waitForIdle(300);
    expect(server.sqlCounter.total).toBe(before);
  });
});
