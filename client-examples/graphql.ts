/**
 * `graphql()` for every client example: documents written with it are typed
 * from the API's schema (schema/schema.graphql, turned into graphql-env.d.ts
 * by `gql.tada generate-output`), so their results and variables need no
 * hand-written types, and `npm run typecheck` fails when a document asks for
 * a field the schema no longer has.
 */
import { print } from '@0no-co/graphql.web';
import { initGraphQLTada, type ResultOf, type TadaDocumentNode, type VariablesOf } from 'gql.tada';
import type { introspection } from './graphql-env.js';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: {
    /** `YYYY-MM-DD`. */
    Date: string;
    /** ISO 8601 with a time zone. */
    DateTime: string;
    JSON: unknown;
  };
}>();

export type { ResultOf, VariablesOf };

/** Any document made with {@link graphql}, whatever its result and variables. */
// biome-ignore lint/suspicious/noExplicitAny: variables are contravariant; `unknown` would accept no document.
export type Document = TadaDocumentNode<any, any>;

/**
 * The `{ query, variables }` a client that sends text (graphql-ws,
 * graphql-sse, fetch) needs, with the variables checked against the document.
 */
export function toRequest<D extends Document>(
  document: D,
  variables: VariablesOf<D>,
): { query: string; variables: VariablesOf<D> } {
  return { query: print(document), variables };
}
