import { PothosError, PothosValidationError } from '@pothos/core';
import { DrizzleQueryError } from 'drizzle-orm';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config.js';
import { type Context, createContext, type InitialContext, type Services } from '../context.js';
import type { Logger } from '../logger.js';
import { ErrorCode } from '../schema/errors.js';
import { useCSRFPrevention } from './plugins/use-csrf-prevention.js';
import { useErrorCodes } from './plugins/use-error-codes.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { useTextInputCheck } from './plugins/use-text-input-check.js';

export type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

export interface YogaOptions {
  schema: GraphQLSchema;
  services: Services;
  config: Config;
  log: Logger;
  /** Cross-cutting plugins of the composition root (metrics, operations endpoints). */
  plugins?: Plugin[];
}

/**
 * Errors the client did not cause reach it as "Unexpected error." with
 * INTERNAL_SERVER_ERROR and no detail (no SQL, no stack); the detail goes to
 * the log. Pothos reports bad relay arguments with its own error class: those
 * are the client's, so they stay visible as BAD_USER_INPUT.
 */
function createMaskError(log: Logger) {
  return (error: unknown, message: string): Error => {
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
    log.error({ ...loggable(original), path: graphQLError?.path?.join('.') }, 'unexpected error');
    return new GraphQLError(message, {
      ...location,
      extensions: { code: ErrorCode.InternalServerError },
    });
  };
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

/** The GraphQL HTTP handler (queries, mutations, SSE subscriptions) and GraphiQL. */
export function createYogaServer({
  schema,
  services,
  config,
  log,
  plugins = [],
}: YogaOptions): Yoga {
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // HTTP: yoga's initial context holds the request; WebSocket: `extra`, where onConnect authenticated.
    context: (initial) => createContext(services, initial as InitialContext),
    graphiql: config.http.graphiql
      ? { title: 'consultator-graphql', subscriptionsProtocol: 'WS' }
      : false,
    landingPage: false,
    // Over the limit: 413 before the body is read (Content-Length) or while it streams.
    maxRequestBodySize: config.limits.requestBodyLimitBytes,
    batching: config.limits.batchingLimit > 0 ? { limit: config.limits.batchingLimit } : false,
    maskedErrors: { maskError: createMaskError(log) },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => log.error(args.map(String).join(' ')),
    },
    plugins: [
      useErrorCodes(),
      ...useQueryLimits(config.limits),
      useTextInputCheck(),
      ...(config.limits.csrfPrevention ? [useCSRFPrevention()] : []),
      ...plugins,
    ],
  });
}
