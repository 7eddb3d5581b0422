import { type DocumentNode, Kind, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../../context.js';
import { unauthenticated } from '../../schema/errors.js';

/** Whether a document selects `__schema` or `__type` anywhere (fragments included). */
function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return false;
      }
      return undefined;
    },
    [Kind.DIRECTIVE]: () => false,
  });
  return found;
}

/**
 * `__schema` and `__type` are answered by graphql-js itself, outside the
 * schema's auth scopes: while anonymous reads are off, an anonymous caller
 * could still read the whole schema wherever introspection is on
 * (development). It gets UNAUTHENTICATED (401) like any other read.
 */
export function useIntrospectionAuth(): Plugin<Context> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const context = args.contextValue as Context;
      if (context.viewer || context.services.allowAnonymousReads) return;
      if (introspects(args.document)) {
        setResultAndStopExecution({
          errors: [unauthenticated('Introspection needs a credential: anonymous reads are off.')],
        });
      }
    },
  };
}
