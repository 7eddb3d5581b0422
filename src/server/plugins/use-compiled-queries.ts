import { useGraphQlJit } from '@envelop/graphql-jit';
import {
  type DocumentNode,
  type GraphQLSchema,
  getOperationAST,
  getVariableValues,
  isInputObjectType,
  Kind,
  type TypeNode,
  visit,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../logger.js';

/**
 * Whether graphql-jit executes `document` exactly as graphql-js would.
 * graphql-jit 0.8 leaves out the default values of variables and of
 * input-object fields (`$force: Boolean! = false` arrives as missing,
 * `ConsultantOrder.direction` unset), and reports variable errors without
 * the `extensions` clients rely on. So a query qualifies only when none of
 * that can happen: no variable has a default, no argument or variable is
 * of an input-object type, and (checked per request) its variables coerce.
 * Everything else, mutations and subscriptions included, runs on graphql-js.
 */
export function isCompilable(schema: GraphQLSchema, document: DocumentNode): boolean {
  const operations = document.definitions.filter(
    (definition) => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (operations.length !== 1 || operations[0]?.operation !== 'query') return false;
  let eligible = true;
  const namedTypeOf = (type: TypeNode): string =>
    type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeOf(type.type);
  visit(document, {
    VariableDefinition(node) {
      if (node.defaultValue || isInputObjectType(schema.getType(namedTypeOf(node.type)))) {
        eligible = false;
      }
    },
    ObjectValue() {
      eligible = false;
    },
  });
  return eligible;
}

/**
 * Runs eligible queries through graphql-jit (`@envelop/graphql-jit`): an
 * operation is compiled once into a function that resolves its fields
 * without graphql-js's per-field interpretation, which is most of the CPU
 * a nested page costs once its data is read. Must come before any plugin
 * that wraps the execute function (the query limits), so that they wrap
 * the compiled one.
 */
export function useCompiledQueries(log: Logger): Plugin {
  // Keyed by the parsed document, which yoga's parse cache hands out again for the same text:
  // both this and the compiled operation (inside the plugin) live as long as that entry.
  const eligibility = new WeakMap<DocumentNode, boolean>();
  return useGraphQlJit(
    {},
    {
      enableIf: ({ schema, document, operationName, variableValues }) => {
        let eligible = eligibility.get(document);
        if (eligible === undefined) {
          eligible = isCompilable(schema, document);
          eligibility.set(document, eligible);
        }
        if (!eligible) return false;
        // A variable that does not coerce gets graphql-js's error, with its code.
        const operation = getOperationAST(document, operationName);
        if (!operation) return false;
        const coerced = getVariableValues(
          schema,
          operation.variableDefinitions ?? [],
          variableValues ?? {},
          { maxErrors: 1 },
        );
        return coerced.errors === undefined;
      },
      // A validated query graphql-jit cannot compile is its bug: the client gets the
      // errors (masked like any other) and the log says which compilation failed.
      onError: (failure) =>
        log.error(
          { errors: failure.errors?.map((error) => error.message) },
          'query compilation failed',
        ),
    },
  ) as Plugin;
}
