import { GraphQLError } from 'graphql';

/** The `extensions.code` values clients can rely on. */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  RateLimited: 'RATE_LIMITED',
  ServerBusy: 'SERVER_BUSY',
  ResponseTooLarge: 'RESPONSE_TOO_LARGE',
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

/** No valid credential, where one is needed (HTTP 401). */
export function unauthenticated(message = 'Authentication required.'): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.Unauthenticated, http: { status: 401 } },
  });
}

/** Too many mutations from one actor (HTTP 429 when it is the whole response). */
export function rateLimited(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.RateLimited,
      retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  });
}

/** The instance runs all the expensive operations it takes at once (HTTP 503 when it is the whole response). */
export function serverBusy(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.ServerBusy,
      retryAfterSeconds,
      http: { status: 503, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  });
}

/** A valid credential whose role does not allow the operation. */
export function forbidden(message = 'Not allowed for this role.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.Forbidden } });
}
