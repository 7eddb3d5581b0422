import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../../schema/errors.js';
import { isAsyncIterable } from './results.js';

function withCode(error: GraphQLError, code: ErrorCode): GraphQLError {
  // graphql-jit's own errors may carry no extensions at all.
  if (error.extensions?.code) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

/**
 * Gives every client-caused error a stable `extensions.code`, as resolver
 * errors already have: syntax errors, validation errors, and variables that
 * do not coerce (which graphql-js reports before any resolver runs, without
 * a path).
 */
export function useErrorCodes(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError)
          replaceParseResult(withCode(result, ErrorCode.ParseFailed));
      };
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0) {
          setResult(result.map((error) => withCode(error, ErrorCode.ValidationFailed)));
        }
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result) || !result.errors) return;
          if (result.data !== undefined && result.data !== null) return;
          setResult({
            ...result,
            errors: result.errors.map((error) =>
              error.path ? error : withCode(error, ErrorCode.BadUserInput),
            ),
          });
        },
      };
    },
  };
}
