import { GraphQLError } from 'graphql';

/** The `extensions.code` values clients can rely on. */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  InternalServerError: 'INTERNAL_SERVER_ERROR',
  ParseFailed: 'GRAPHQL_PARSE_FAILED',
  ValidationFailed: 'GRAPHQL_VALIDATION_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A client mistake: shown as is (never masked), with a stable code. */
export function badUserInput(message: string, argument?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.BadUserInput, ...(argument ? { argument } : {}) },
  });
}
