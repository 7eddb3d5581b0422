import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  getOperationAST,
  getVariableValues,
  isInputObjectType,
  Kind,
  type TypeNode,
  visit,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
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

/** graphql-jit's compiler, or a stand-in for it in a test. */
export type QueryCompiler = (
  schema: GraphQLSchema,
  document: DocumentNode,
) => CompiledQuery | ExecutionResult;

/**
 * Runs eligible queries through graphql-jit: an operation is compiled once
 * into a function that resolves its fields without graphql-js's per-field
 * interpretation, which is most of the CPU a nested page costs once its data
 * is read. A query graphql-jit refuses to compile runs on graphql-js (its
 * refusal is logged once, as a warning): compiling is an optimisation, never
 * a reason to fail a valid query. Must come before any plugin that wraps the
 * execute function (the query limits), so that they wrap the compiled one.
 */
export function useCompiledQueries(
  log: Logger,
  compile: QueryCompiler = (schema, document) => compileQuery(schema, document),
): Plugin {
  // Keyed by the parsed document, which yoga's parse cache hands out again for the same
  // text: the compiled function lives as long as that entry. `false`: runs on graphql-js.
  const compiledByDocument = new WeakMap<DocumentNode, CompiledQuery | false>();
  const compiledFor = (schema: GraphQLSchema, document: DocumentNode): CompiledQuery | false => {
    let compiled = compiledByDocument.get(document);
    if (compiled === undefined) {
      compiled = false;
      if (isCompilable(schema, document)) {
        const result = compile(schema, document);
        if (isCompiledQuery(result)) compiled = result;
        else {
          log.warn(
            { errors: result.errors?.map((error) => error.message) },
            'graphql-jit cannot compile a query; it runs on graphql-js',
          );
        }
      }
      compiledByDocument.set(document, compiled);
    }
    return compiled;
  };
  return {
    onExecute({ args, setExecuteFn }) {
      const compiled = compiledFor(args.schema, args.document);
      if (!compiled) return;
      // A variable that does not coerce gets graphql-js's error, with its code.
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation) return;
      const coerced = getVariableValues(
        args.schema,
        operation.variableDefinitions ?? [],
        args.variableValues ?? {},
        { maxErrors: 1 },
      );
      if (coerced.errors) return;
      setExecuteFn((executionArgs: ExecutionArgs) =>
        compiled.query(
          executionArgs.rootValue,
          executionArgs.contextValue,
          executionArgs.variableValues,
        ),
      );
    },
  };
}
