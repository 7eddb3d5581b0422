import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { type GraphQLResolveInfo, isObjectType } from 'graphql';
import type { Context } from '../context.js';
import { badUserInput, forbidden, unauthenticated } from './errors.js';

/**
 * `node(id:)` and `nodes(ids:)` load by the type named inside the id, which
 * the client chose: a type that exists but is no node (`Task`, `AuditLog`)
 * or none at all (`__proto__`) would reach the relay plugin's lookup and fail
 * there with an internal error. It is the client's mistake: say so.
 */
function checkNodeTypes(
  ids: readonly ({ typename: string } | null)[],
  info: GraphQLResolveInfo,
  argument: 'id' | 'ids',
) {
  for (const globalId of ids) {
    if (!globalId) continue;
    const type = Object.hasOwn(info.schema.getTypeMap(), globalId.typename)
      ? info.schema.getType(globalId.typename)
      : undefined;
    if (!isObjectType(type) || !type.getInterfaces().some((face) => face.name === 'Node')) {
      throw badUserInput(`"${globalId.typename}" ids do not name a node`, argument);
    }
  }
}

/**
 * The builder and its plugins only; types live in the domain folders, so
 * this file never changes when the schema grows.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    Date: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  // Resolvers return totalCount lazily so the COUNT runs only when asked for.
  Connection: { totalCount: () => Promise<number> | number };
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  AuthScopes: {
    /** Queries and subscriptions: any valid credential, or none when anonymous reads are on. */
    reader: boolean;
    /** Mutations, the audit trail and tasks. */
    admin: boolean;
  };
}>({
  // Scope checks run first, so nothing (not even argument decoding) runs for a refused caller.
  plugins: [ScopeAuthPlugin, RelayPlugin, ErrorsPlugin],
  scopeAuth: {
    // Refuse a subscription when it starts, not at its first event.
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      reader: context.viewer !== null || context.services.allowAnonymousReads,
      admin: context.viewer?.role === 'admin',
    }),
    unauthorizedError: (_parent, context) =>
      context.viewer === null ? unauthenticated() : forbidden(),
  },
  errors: {
    // `createConsultant` → `CreateConsultantResult`: payload | typed errors.
    defaultUnionOptions: {
      name: ({ fieldName }) => `${fieldName.charAt(0).toUpperCase()}${fieldName.slice(1)}Result`,
    },
    directResult: true,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    nodeQueryOptions: {
      resolve: (_root, args, _context, info, resolveNode) => {
        checkNodeTypes([args.id], info, 'id');
        return resolveNode(args.id);
      },
    },
    nodesQueryOptions: {
      resolve: (_root, args, _context, info, resolveNodes) => {
        checkNodeTypes(args.ids, info, 'ids');
        return resolveNodes(args.ids);
      },
    },
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

builder.queryType({ authScopes: { reader: true } });
builder.mutationType({});
builder.subscriptionType({ authScopes: { reader: true } });

builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'Number of items matching the filter, across all pages.',
    resolve: (connection) => connection.totalCount(),
  }),
);
