import { PothosError, PothosValidationError } from '@pothos/core';
import { DrizzleQueryError } from 'drizzle-orm';
import { GraphQLError, getOperationAST } from 'graphql';
import { type Plugin, useErrorHandler } from 'graphql-yoga';
import type { Logger } from '../../logger.js';
import { ErrorCode } from '../../schema/errors.js';

/** How many failed paths the one line of a result lists besides the count. */
const LOGGED_PATHS = 5;

export interface ErrorLog {
  /** yoga's `maskedErrors.maskError`: what the client sees of an error. */
  maskError(error: unknown, message: string): Error;
  /** Writes the log line of each result that carried unexpected errors. */
  plugin: Plugin;
  /**
   * True for an error this log has already written (or counted): yoga logs
   * every error it masks on its own logger, and that logger must skip these.
   */
  handled(value: unknown): boolean;
}

/**
 * Errors the client did not cause reach it as "Unexpected error." with
 * INTERNAL_SERVER_ERROR and no detail (no SQL, no stack); the detail goes to
 * the log, on a budget: **one line per result**, whatever the number of
 * failed fields, with the count, the first error in full and the first few
 * paths. A reply with a thousand failed fields (the pool exhausted, the
 * database gone) would otherwise write a thousand stacks, and the log
 * becomes the next outage. Pothos reports bad relay arguments with its own
 * error class: those are the client's, so they stay visible as BAD_USER_INPUT.
 */
export function createErrorLog(log: Logger): ErrorLog {
  // Errors already on a line (an execution result's, or their own): never logged again.
  const logged = new WeakSet<object>();
  const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

  function maskError(error: unknown, message: string): Error {
    // Yoga hands every error here, including the ones meant for the client.
    if (isOriginalGraphQLError(error)) return error as GraphQLError;
    const graphQLError = error instanceof GraphQLError ? error : null;
    const original = graphQLError?.originalError ?? error;
    const location = {
      nodes: graphQLError?.nodes,
      source: graphQLError?.source,
      positions: graphQLError?.positions,
      path: graphQLError?.path,
    };
    if (original instanceof PothosValidationError) {
      return new GraphQLError(original.message, {
        ...location,
        extensions: { code: ErrorCode.BadUserInput },
      });
    }
    // Thrown outside an execution (building the context, a subscription's source): one error, one line.
    if (!(isObject(error) && logged.has(error)) && !(isObject(original) && logged.has(original))) {
      log.error({ ...loggable(original), path: graphQLError?.path?.join('.') }, 'unexpected error');
    }
    if (isObject(error)) logged.add(error);
    return new GraphQLError(message, {
      ...location,
      extensions: { code: ErrorCode.InternalServerError },
    });
  }

  const plugin: Plugin = useErrorHandler(({ errors, context, phase }) => {
    if (phase !== 'execution') return;
    const unexpected: GraphQLError[] = [];
    for (const error of errors) {
      if (error instanceof GraphQLError && isUnexpected(error)) unexpected.push(error);
    }
    const [first] = unexpected;
    if (!first) return;
    for (const error of unexpected) {
      logged.add(error);
      if (error.originalError) logged.add(error.originalError);
    }
    const args = context as {
      document?: Parameters<typeof getOperationAST>[0];
      operationName?: string;
    };
    const operation = args.document
      ? getOperationAST(args.document, args.operationName)?.name?.value
      : undefined;
    log.error(
      {
        operation: operation ?? 'anonymous',
        count: unexpected.length,
        ...loggable(first.originalError ?? first),
        path: first.path?.join('.'),
        paths: unexpected.slice(0, LOGGED_PATHS).map((error) => error.path?.join('.')),
      },
      unexpected.length === 1 ? 'unexpected error' : 'unexpected errors',
    );
  });

  return { maskError, plugin, handled: (value) => isObject(value) && logged.has(value) };
}

/** An error the mask turns into INTERNAL_SERVER_ERROR. */
function isUnexpected(error: GraphQLError): boolean {
  return !isOriginalGraphQLError(error) && !(error.originalError instanceof PothosValidationError);
}

/**
 * drizzle wraps driver errors with the statement *and its parameters* in the
 * message; parameters are client data (searches, emails, ids) and stay out of
 * the log: the statement text and the driver's error are enough to debug.
 */
function loggable(error: unknown): Record<string, unknown> {
  if (error instanceof DrizzleQueryError) {
    return { err: error.cause ?? new Error('database query failed'), statement: error.query };
  }
  return { err: error };
}

/**
 * A GraphQL error created on purpose (by us, graphql-js or yoga), not
 * wrapping an unexpected one. Pothos' own errors extend GraphQLError but are
 * not written for clients (a schema lookup failing says nothing useful and
 * has no code): they are sorted out by the mask.
 */
function isOriginalGraphQLError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error instanceof PothosError) return false;
  return error.originalError == null || isOriginalGraphQLError(error.originalError);
}
