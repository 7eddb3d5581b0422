import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import type { Context } from '../context.js';
import { badUserInput } from './errors.js';

/**
 * The builder and its plugins only; types live in the domain folders, so
 * this file never changes when the schema grows.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    Date: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
  };
  // Resolvers return totalCount lazily so the COUNT runs only when asked for.
  Connection: { totalCount: () => Promise<number> | number };
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [RelayPlugin],
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    // The default decoder throws an error that error masking would hide;
    // a malformed id is the client's mistake and must say so.
    decodeGlobalID: (globalID) => {
      const decoded = Buffer.from(globalID, 'base64').toString('utf8');
      const separator = decoded.indexOf(':');
      if (separator <= 0 || Buffer.from(decoded).toString('base64') !== globalID) {
        throw badUserInput(`"${globalID}" is not a valid ID`);
      }
      return { typename: decoded.slice(0, separator), id: decoded.slice(separator + 1) };
    },
  },
});

builder.queryType({});

builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'Number of items matching the filter, across all pages.',
    resolve: (connection) => connection.totalCount(),
  }),
);
