import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../src/schema/index.js';
import { isCompilable } from '../src/server/plugins/use-compiled-queries.js';

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
