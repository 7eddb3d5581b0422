import { GraphQLError, parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { buildSchema } from '../src/schema/index.js';
import {
  isCompilable,
  type QueryCompiler,
  useCompiledQueries,
} from '../src/server/plugins/use-compiled-queries.js';
import { createTestDatabase } from './support/database.js';
import { disposeAfterEach } from './support/dispose.js';
import { spawnTestServer } from './support/entry-point.js';

const dispose = disposeAfterEach();

/*
 * Which operations run on graphql-jit. Its coercion leaves out the defaults
 * of variables and of input-object fields and reports variable errors
 * without their code, so those operations must stay on graphql-js; the
 * rest of the suite runs every query through whichever engine is chosen,
 * so an answer that differs between the two fails there.
 */
describe('compiled queries', () => {
  const schema = buildSchema();
  const compilable = (source: string) => isCompilable(schema, parse(source));

  it('compiles plain queries, with variables of scalar and list types', () => {
    expect(
      compilable(`query ($first: Int!, $after: String) {
        consultants(first: $first, after: $after) {
          pageInfo { hasNextPage endCursor }
          edges { node { id firstName practice { name } missions(first: 3) { edges { node { title } } } } }
        }
      }`),
    ).toBe(true);
    expect(compilable(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`)).toBe(true);
    expect(compilable(`{ stats { consultants { total } } }`)).toBe(true);
  });

  it('leaves on graphql-js what graphql-jit would coerce differently', () => {
    // A variable default.
    expect(
      compilable(`query ($first: Int = 5) { consultants(first: $first) { totalCount } }`),
    ).toBe(false);
    // An input object as a literal: its fields' defaults (ConsultantOrder.direction).
    expect(compilable(`{ consultants(orderBy: { field: ID }) { totalCount } }`)).toBe(false);
    // An input object as a variable.
    expect(
      compilable(
        `query ($filter: ConsultantFilter) { consultants(filter: $filter) { totalCount } }`,
      ),
    ).toBe(false);
  });

  it('leaves mutations, subscriptions and documents of several operations on graphql-js', () => {
    expect(compilable(`subscription { statsChanged { version } }`)).toBe(false);
    expect(compilable(`mutation ($id: ID!) { deleteConsultant(id: $id) { __typename } }`)).toBe(
      false,
    );
    expect(compilable(`query A { stats { version } } query B { stats { version } }`)).toBe(false);
  });
});

describe('the compiled-query plugin', () => {
  it('runs a query graphql-jit refuses to compile on graphql-js, and says so once', async () => {
    const lines: string[] = [];
    const log = createLogger('warn', {
      destination: { write: (line: string) => lines.push(line) },
    });
    const refusing: QueryCompiler = () => ({ errors: [new GraphQLError('cannot compile this')] });
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { greeting(name: String!): String! }',
        resolvers: {
          Query: { greeting: (_: unknown, { name }: { name: string }) => `hi ${name}` },
        },
      }),
      plugins: [useCompiledQueries(log, refusing)],
      logging: false,
    });
    for (let i = 0; i < 2; i += 1) {
      const response = await yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'query ($name: String!) { greeting(name: $name) }',
          variables: { name: 'Ada' },
        }),
      });
      expect(await response.json()).toEqual({ data: { greeting: 'hi Ada' } });
    }
    const warnings = lines.filter((line) => line.includes('graphql-jit cannot compile'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('cannot compile this');
  });

  it('answers __typename anywhere from the built server, as Apollo Client asks for it', async () => {
    // The bundle once held two copies of graphql-js (graphql-jit imports
    // `graphql/…/index.js`), and graphql-jit then refused every __typename.
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const server = await spawnTestServer(database.url, { ALLOW_ANONYMOUS_READS: 'true' }, dispose);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `query ($first: Int!) {
          __typename
          practices { __typename name }
          consultants(first: $first) { __typename edges { __typename node { __typename id } } }
        }`,
        variables: { first: 2 },
      }),
    });
    const body = (await response.json()) as {
      data?: {
        __typename: string;
        practices: { __typename: string }[];
        consultants: { __typename: string; edges: { node: { __typename: string } }[] };
      };
      errors?: unknown;
    };
    expect(body.errors).toBeUndefined();
    expect(body.data?.__typename).toBe('Query');
    expect(body.data?.practices[0]?.__typename).toBe('Practice');
    expect(body.data?.consultants.edges.map((edge) => edge.node.__typename)).toEqual([
      'Consultant',
      'Consultant',
    ]);
    // And compiled, not by the fallback: graphql-jit found nothing to refuse.
    expect(server.output()).not.toContain('graphql-jit cannot compile');
  }, 120_000);
});
