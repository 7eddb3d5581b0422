import type { GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config.js';
import { type Context, createContext, type InitialContext, type Services } from '../context.js';
import type { Logger } from '../logger.js';
import { useCompiledQueries } from './plugins/use-compiled-queries.js';
import { useCSRFPrevention } from './plugins/use-csrf-prevention.js';
import { useErrorCodes } from './plugins/use-error-codes.js';
import { createErrorLog } from './plugins/use-error-log.js';
import { renderGraphiQLPage, useGraphiQL } from './plugins/use-graphiql.js';
import { useIntrospectionAuth } from './plugins/use-introspection-auth.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { useRequestBodyLimit } from './plugins/use-request-body-limit.js';
import { useTextInputCheck } from './plugins/use-text-input-check.js';

const GRAPHQL_ENDPOINT = '/graphql';

export type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

export interface YogaOptions {
  schema: GraphQLSchema;
  services: Services;
  config: Config;
  log: Logger;
  /** Cross-cutting plugins of the composition root (metrics, operations endpoints). */
  plugins?: Plugin[];
}

/** The GraphQL HTTP handler (queries, mutations, SSE subscriptions) and GraphiQL. */
export function createYogaServer({
  schema,
  services,
  config,
  log,
  plugins = [],
}: YogaOptions): Yoga {
  const errorLog = createErrorLog(log);
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    // HTTP: yoga's initial context holds the request; WebSocket: `extra`, where onConnect authenticated.
    context: (initial) => createContext(services, initial as InitialContext),
    graphiql: config.http.graphiql
      ? { title: 'consultator-graphql', subscriptionsProtocol: 'WS' }
      : false,
    // GraphiQL's code comes from this server, never from a CDN: it works offline.
    renderGraphiQL: renderGraphiQLPage,
    landingPage: false,
    // Our own limit (useRequestBodyLimit) replaces yoga's, which streams every body through a counter.
    maxRequestBodySize: false,
    batching: config.limits.batchingLimit > 0 ? { limit: config.limits.batchingLimit } : false,
    maskedErrors: { maskError: errorLog.maskError },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => {
        // yoga's own line for each error it masks: the error log has written (or counted) it.
        if (args.length === 1 && errorLog.handled(args[0])) return;
        log.error(args.map(String).join(' '));
      },
    },
    plugins: [
      // Before the masking (which yoga adds last): it must see the original errors.
      errorLog.plugin,
      useErrorCodes(),
      // Before the limits: they wrap whichever execute function runs the operation.
      ...(config.http.compiledQueries ? [useCompiledQueries(log)] : []),
      ...useQueryLimits(config.limits),
      useTextInputCheck(),
      useIntrospectionAuth(),
      ...(config.limits.csrfPrevention ? [useCSRFPrevention()] : []),
      ...(config.http.graphiql ? [useGraphiQL({ graphqlEndpoint: GRAPHQL_ENDPOINT })] : []),
      ...plugins,
      // Last, after any plugin that registers a request parser: it wraps the parser chosen.
      // Over the limit: 413 before the body is read (Content-Length) or while it streams.
      useRequestBodyLimit(config.limits.requestBodyLimitBytes),
    ],
  });
}
