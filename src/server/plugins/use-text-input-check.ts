import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../../schema/errors.js';

const NUL = '\u0000';

function nulError(where: string): GraphQLError {
  return new GraphQLError(
    `${where} contains a NUL character (U+0000), which text values may not hold.`,
    {
      extensions: { code: ErrorCode.BadUserInput },
    },
  );
}

/** String literals of the document, block strings included (the lexer lets a raw NUL through those). */
const noNulInLiterals: ValidationRule = (context) => ({
  StringValue(node) {
    if (node.value.includes(NUL)) context.reportError(nulError('A string literal'));
  },
});

/** The path of the first string holding a NUL inside a variable's value, e.g. `$input.firstName`. */
function findNul(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes(NUL) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findNul(item, `${path}[${index}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = findNul(key, `${path} (a key)`) ?? findNul(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * PostgreSQL text cannot hold U+0000: a string with one fails the statement
 * it reaches ("invalid byte sequence"), which a client would see as our
 * internal error. GraphQL strings may hold it, so every string the client
 * sends — literals and variables, whatever argument or filter they feed —
 * is refused here with BAD_USER_INPUT, before any resolver runs or any
 * statement is sent, on HTTP and graphql-ws alike.
 */
export function useTextInputCheck(): Plugin {
  const checkVariables = (
    variables: Record<string, unknown> | null | undefined,
    stop: (result: { errors: GraphQLError[] }) => void,
  ) => {
    for (const [name, value] of Object.entries(variables ?? {})) {
      const found = findNul(value, `$${name}`);
      if (found) {
        stop({ errors: [nulError(`Variable ${found}`)] });
        return;
      }
    }
  };
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noNulInLiterals);
    },
    onExecute({ args, setResultAndStopExecution }) {
      checkVariables(args.variableValues, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      checkVariables(args.variableValues, setResultAndStopExecution);
    },
  };
}
