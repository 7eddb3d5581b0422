import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { disposeAfterAll } from './support/dispose.js';
import { expectData, expectOneError } from './support/graphql.js';
import { type QueryResult, startTestServer, type TestServer } from './support/server.js';
import { fewestStatements } from './support/sql.js';

const dispose = disposeAfterAll();

/** The README's first example, at the largest page size: what the limits must keep allowing. */
const BIG_LEGITIMATE_PAGE = `query Consultants {
  consultants(first: 100, orderBy: { field: LAST_NAME, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id fullName email grade dailyRate availability
      practice { name }
      skills { level skill { name category } }
      currentMission { client title startDate }
      missions(first: 3) { totalCount edges { node { client title status startDate endDate } } }
    } }
  }
}`;

/** consultants → missions → consultant → missions …: `levels` round trips deep. */
function deepQuery(levels: number): string {
  let inner = 'id';
  for (let level = 0; level < levels; level += 1) {
    inner = `missions(first: 1) { edges { node { consultant { ${inner} } } } }`;
  }
  return `{ consultants(first: 1) { edges { node { ${inner} } } } }`;
}

const COSTLY_BY_PAGE_SIZE = `query Costly($size: Int) {
  consultants(first: $size) { edges { node {
    missions(first: $size) { edges { node {
      consultant { missions(first: $size) { edges { node { id client } } } }
    } } }
  } } }
}`;

let server: TestServer;
let strict: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, { disposer: dispose });
  // A second instance on the same database, with the production-style switches.
  strict = await startTestServer(
    {
      INTROSPECTION: 'false',
      FIELD_SUGGESTIONS: 'false',
      REQUEST_BODY_LIMIT_BYTES: '2000',
      BATCHING_LIMIT: '2',
    },
    { disposer: dispose, database: server.databaseUrl },
  );
});

/** Runs `request` and asserts that the server sent no SQL statement meanwhile. */
async function withoutSql<T>(target: TestServer, request: () => Promise<T>): Promise<T> {
  await target.waitForIdle();
  const { count, statements, result } = await fewestStatements(target, request);
  expect(count, `SQL statements sent for a rejected operation:\n${statements.join('\n')}`).toBe(0);
  return result;
}

function expectRejected(result: QueryResult, code: string, message: RegExp) {
  const error = expectOneError(result);
  expect(error.extensions?.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(result.body.data ?? null).toBeNull();
}

describe('query limits over HTTP', () => {
  it('keeps serving a 100-consultant page with practice, skills and missions', async () => {
    const data = expectData(await server.query(BIG_LEGITIMATE_PAGE));
    expect(data.consultants.edges).toHaveLength(100);
  });

  it('rejects a query deeper than QUERY_MAX_DEPTH before any resolver runs', async () => {
    expectData(await server.query(deepQuery(2)));
    const result = await withoutSql(server, () => server.query(deepQuery(4)));
    expectRejected(result, 'GRAPHQL_VALIDATION_FAILED', /depth limit of 12 exceeded/);
  });

  it('rejects more aliases than QUERY_MAX_ALIASES', async () => {
    const aliases = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `p${i}: practices { id }`).join(' ')} }`;
    expectData(await server.query(aliases(15)));
    const result = await withoutSql(server, () => server.query(aliases(16)));
    expectRejected(result, 'GRAPHQL_VALIDATION_FAILED', /Aliases limit of 15 exceeded/);
  });

  it('rejects more directives than QUERY_MAX_DIRECTIVES', async () => {
    const directives = (n: number) =>
      `{ practices { ${Array.from({ length: n }, () => 'id @skip(if: false)').join(' ')} } }`;
    expectData(await server.query(directives(20)));
    const result = await withoutSql(server, () => server.query(directives(21)));
    expectRejected(result, 'GRAPHQL_VALIDATION_FAILED', /Directives limit of 20 exceeded/);
  });

  it('rejects a document of more than QUERY_MAX_TOKENS tokens at parse time', async () => {
    const fields = Array.from({ length: 2_100 }, () => 'id').join(' ');
    const result = await withoutSql(server, () => server.query(`{ practices { ${fields} } }`));
    expectRejected(result, 'GRAPHQL_PARSE_FAILED', /Token limit of 2000 exceeded/);
  });

  it('prices lists by their page size: the same document passes small and fails large', async () => {
    expectData(await server.query(COSTLY_BY_PAGE_SIZE, { size: 5 }));
    const result = await withoutSql(server, () => server.query(COSTLY_BY_PAGE_SIZE, { size: 100 }));
    expectRejected(
      result,
      'GRAPHQL_VALIDATION_FAILED',
      /Query cost of \d+ exceeds the maximum of 20000/,
    );
    const error = expectOneError(result);
    expect(error.extensions?.cost).toBeGreaterThan(20_000);
  });

  it('prices lists behind fragments and interfaces the same way: no bypass', async () => {
    const throughFragments = `query Costly($size: Int) {
      consultants(first: $size) { ...Page }
    }
    fragment Page on QueryConsultantsConnection { edges { node { ... on Consultant { ...Deep } } } }
    fragment Deep on Consultant {
      missions(first: $size) { edges { node { consultant { missions(first: $size) { edges { node { id } } } } } } }
    }`;
    expectData(await server.query(throughFragments, { size: 3 }));
    const result = await withoutSql(server, () => server.query(throughFragments, { size: 100 }));
    expectRejected(result, 'GRAPHQL_VALIDATION_FAILED', /Query cost of \d+ exceeds/);

    const ids = Array.from({ length: 100 }, (_, i) =>
      Buffer.from(`Consultant:${i + 1}`).toString('base64'),
    );
    const manyNodes = `query Nodes($ids: [ID!]!) { nodes(ids: $ids) { ... on Consultant {
      missions(first: 100) { edges { node { consultant { missions(first: 100) { edges { node { id } } } } } } }
    } } }`;
    const viaNodes = await withoutSql(server, () => server.query(manyNodes, { ids }));
    expectRejected(viaNodes, 'GRAPHQL_VALIDATION_FAILED', /Query cost of \d+ exceeds/);
  });

  it('switches introspection off by configuration', async () => {
    const introspection = '{ __schema { queryType { name } } }';
    expectData(await server.query(introspection));
    const result = await withoutSql(strict, () => strict.query(introspection));
    expect(result.body.data ?? null).toBeNull();
    expect(result.body.errors?.length).toBeGreaterThan(0);
    for (const error of result.body.errors ?? []) {
      expect(error.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(error.message).toMatch(/introspection has been disabled/);
    }
  });

  it('hides field suggestions when FIELD_SUGGESTIONS is off', async () => {
    const typo = '{ practices { nam } }';
    expect(expectOneError(await server.query(typo)).message).toMatch(/Did you mean "name"\?/);
    const hidden = expectOneError(await withoutSql(strict, () => strict.query(typo)));
    expect(hidden.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(hidden.message).toBe('Cannot query field "nam" on type "Practice".');
  });

  it('answers 413 to a body over REQUEST_BODY_LIMIT_BYTES', async () => {
    const padding = ' '.repeat(3_000);
    const response = await withoutSql(strict, () =>
      fetch(strict.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ practices { id } ${padding}}` }),
      }),
    );
    expect(response.status).toBe(413);
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
  });

  it('answers 413 to a chunked body (no Content-Length) once it streams past the limit, and serves one under it', async () => {
    const chunked = (text: string) =>
      fetch(strict.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream({
          start(controller) {
            // Two chunks: the limit is crossed while the body streams, not declared up front.
            const bytes = new TextEncoder().encode(text);
            const half = Math.floor(bytes.length / 2);
            controller.enqueue(bytes.slice(0, half));
            controller.enqueue(bytes.slice(half));
            controller.close();
          },
        }),
        // @ts-expect-error Node's fetch needs it for a streamed body; lib.dom's RequestInit lacks it.
        duplex: 'half',
      });
    const over = await withoutSql(strict, () =>
      chunked(JSON.stringify({ query: `{ practices { id } ${' '.repeat(3_000)}}` })),
    );
    expect(over.status).toBe(413);
    expect((await over.json()).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    const under = await chunked(JSON.stringify({ query: '{ practices { id } }' }));
    expect(under.status).toBe(200);
    expect((await under.json()).data.practices.length).toBeGreaterThan(0);
  });

  it('refuses batches by default and caps them at BATCHING_LIMIT', async () => {
    const batch = (n: number) =>
      JSON.stringify(Array.from({ length: n }, () => ({ query: '{ practices { id } }' })));
    const post = (target: TestServer, body: string) =>
      fetch(target.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
      });

    const refused = await withoutSql(server, () => post(server, batch(2)));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toMatch(/Batching is not supported/);

    const accepted = await post(strict, batch(2));
    expect(accepted.status).toBe(200);
    const answers = await accepted.json();
    expect(answers).toHaveLength(2);
    expect(answers[0].data.practices.length).toBeGreaterThan(0);

    const overCap = await withoutSql(strict, () => post(strict, batch(3)));
    expect(overCap.status).toBe(413);
    expect(JSON.stringify(await overCap.json())).toMatch(/Batching is limited to 2 operations/);
  });

  it('requires a CSRF header on posts a browser sends without preflight, not on GET queries', async () => {
    const query = (document: string) =>
      `${server.graphqlUrl}?query=${encodeURIComponent(document)}`;
    // What @urql/core sends with its default options: a GET with no other header.
    const get = await fetch(query('{ practices { id } }'), {
      headers: { accept: 'application/graphql-response+json, application/json' },
    });
    expect(get.status).toBe(200);
    expect((await get.json()).data.practices.length).toBeGreaterThan(0);
    // A GET cannot carry a mutation, so it cannot be forged into a write.
    const mutation = await withoutSql(server, () =>
      fetch(query('mutation { __typename }'), { headers: { accept: 'application/json' } }),
    );
    expect(mutation.status).toBe(405);

    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain']) {
      const simplePost = await withoutSql(server, () =>
        fetch(server.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body:
            contentType === 'text/plain' ? '{"query":"{__typename}"}' : 'query=%7B__typename%7D',
        }),
      );
      expect(simplePost.status, contentType).toBe(403);
      expect((await simplePost.json()).errors[0].message).toMatch(/x-graphql-csrf/);
    }

    const withHeader = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'x-graphql-csrf': '1',
      },
      body: 'query=%7B__typename%7D',
    });
    expect(withHeader.status).toBe(200);
    expect((await withHeader.json()).data.__typename).toBe('Query');
  });
});

describe('query limits over graphql-ws', () => {
  /** Runs one operation over a fresh graphql-ws connection; returns what came back. */
  async function overWebSocket(query: string, variables?: Record<string, unknown>) {
    const client = createClient({
      url: server.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    try {
      const results: unknown[] = [];
      const errors = await new Promise<unknown>((resolve) => {
        client.subscribe(
          { query, variables },
          {
            next: (result) => results.push(result),
            error: (error) => resolve(error),
            complete: () => resolve(undefined),
          },
        );
      });
      return { results, errors };
    } finally {
      await client.dispose();
    }
  }

  it('applies the same depth and cost limits, before any resolver runs', async () => {
    const deep = await withoutSql(server, () => overWebSocket(deepQuery(4)));
    expect(deep.results).toEqual([]);
    expect(JSON.stringify(deep.errors)).toMatch(/depth limit of 12 exceeded/);
    expect(JSON.stringify(deep.errors)).toMatch(/GRAPHQL_VALIDATION_FAILED/);

    const costly = await withoutSql(server, () =>
      overWebSocket(COSTLY_BY_PAGE_SIZE, { size: 100 }),
    );
    expect(JSON.stringify(costly)).toMatch(/Query cost of \d+ exceeds the maximum of 20000/);

    const costlySubscription = await withoutSql(server, () =>
      overWebSocket(
        `subscription { statsChanged { ${Array.from({ length: 16 }, (_, i) => `v${i}: version`).join(' ')} } }`,
      ),
    );
    expect(JSON.stringify(costlySubscription.errors)).toMatch(/Aliases limit of 15 exceeded/);
  });

  it('still serves a legitimate operation over the same transport', async () => {
    const { results, errors } = await overWebSocket('{ practices { name } }');
    expect(errors).toBeUndefined();
    expect(results).toHaveLength(1);
  });
});
