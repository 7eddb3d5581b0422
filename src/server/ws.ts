import type http from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import type { WebSocketConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { createStatsFanOut, type StatsFanOutMetrics } from './stats-fanout.js';
import { type Extra, type GraphQLWsAdapter, serveGraphQLWs } from './ws-adapter.js';
import type { Yoga } from './yoga.js';

export { WebSocketCloseCode } from './ws-adapter.js';

export interface WebSocketEndpoint {
  /** Open sockets right now. */
  readonly sockets: number;
  /** Operations running on all sockets right now (refused ones never count). */
  readonly operations: number;
  /** Unsent bytes held for all sockets right now. */
  readonly bufferedBytes: number;
  /** Messages received so far. */
  readonly messagesReceived: number;
  /** Sockets closed so far, by the close code the server saw (abuse shows here: 4400, 4408, 1013…). */
  readonly closesByCode: ReadonlyMap<number, number>;
  /** statsChanged subscriptions served by pre-framed fan-out (see stats-fanout.ts). */
  readonly sharedStats: StatsFanOutMetrics;
  /**
   * Closes every socket with 1001 (going away) and stops accepting; peers
   * that do not answer the closing handshake within `graceMs` are cut.
   */
  close(graceMs?: number): Promise<void>;
}

export interface WebSocketOptions extends WebSocketConfig {
  log: Logger;
  path?: string;
  /**
   * Decides whether a `connection_init` is accepted (false closes 4403); its
   * result becomes the ack payload. Authentication plugs in here.
   */
  onConnect?: ServerOptions<Record<string, unknown> | undefined, Extra>['onConnect'];
  /** Sent as `X-Instance` on upgrade responses, so an operator can tell which worker serves a socket. */
  instance?: string;
  /** Called with each push's fan-out: members written, the synchronous time and the CPU it took. */
  onFanOut?: (members: number, seconds: number, cpuSeconds: number) => void;
}

type Enveloped = ReturnType<Yoga['getEnveloped']>;

/**
 * graphql-ws on the same path as HTTP GraphQL. Every operation goes through
 * `yoga.getEnveloped`, so the WebSocket transport gets the same context
 * factory, plugins, limits and error masking as HTTP: there is no second
 * context pipeline to drift.
 *
 * Abuse limits (see ws-adapter.ts for the socket-level ones): a cap on
 * operations per socket, answered with a `TOO_MANY_OPERATIONS` error for the
 * operation over it. statsChanged subscriptions of the plain shape are
 * served by the pre-framed fan-out; everything else by graphql-ws itself.
 */
export function attachWebSocketServer(
  server: http.Server,
  yoga: Yoga,
  options: WebSocketOptions,
): WebSocketEndpoint {
  const { log } = options;
  // The enveloped engine each operation was prepared with, for graphql-ws' execute/subscribe.
  const engines = new WeakMap<ExecutionArgs, Enveloped>();
  const engineOf = (args: ExecutionArgs): Enveloped => {
    const engine = engines.get(args);
    if (!engine) throw new Error('operation was not prepared by onSubscribe');
    return engine;
  };
  const statsFanOut = createStatsFanOut({ log, onFanOut: options.onFanOut });

  const adapter: GraphQLWsAdapter = serveGraphQLWs({
    server,
    path: options.path ?? yoga.graphqlEndpoint,
    log,
    maxPayloadBytes: options.maxPayloadBytes,
    keepAliveMs: options.keepAliveMs,
    maxBufferedBytes: options.maxBufferedBytes,
    maxSocketsPerAddress: options.maxSocketsPerAddress,
    instance: options.instance,
    graphqlWs: {
      connectionInitWaitTimeout: options.connectionInitTimeoutMs,
      onConnect: options.onConnect,
      execute: (args) => engineOf(args).execute(args) as never,
      subscribe: (args) => engineOf(args).subscribe(args) as never,
      onSubscribe: async (ctx, id, params) => {
        const { operations } = ctx.extra.connection;
        if (operations.size >= options.maxSubscriptionsPerSocket) {
          return [
            new GraphQLError(
              `Too many operations on this socket: at most ${options.maxSubscriptionsPerSocket} at a time.`,
              { extensions: { code: 'TOO_MANY_OPERATIONS' } },
            ),
          ];
        }
        // Counted from here, so operations still being prepared count against the cap too.
        operations.add(id);
        const engine = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        try {
          const document = engine.parse(params.query);
          const errors = engine.validate(engine.schema, document);
          if (errors.length) {
            operations.delete(id);
            return errors;
          }
          const args: ExecutionArgs = {
            schema: engine.schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await engine.contextFactory(),
          };
          engines.set(args, engine);
          return args;
        } catch (error) {
          operations.delete(id);
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
      },
      onOperation: async (ctx, id, params, args, result) => {
        const member = await statsFanOut.share(
          ctx.extra.connection,
          id,
          params,
          args,
          result,
          engineOf(args),
        );
        if (member) {
          // graphql-ws holds these arguments until the operation ends, but a member never
          // executes: its context (loaders, request) and engine are garbage from here.
          engines.delete(args);
          args.contextValue = undefined;
        }
        return member;
      },
      onComplete: (ctx, id) => {
        ctx.extra.connection.operations.delete(id);
      },
      onError: (ctx, id) => {
        ctx.extra.connection.operations.delete(id);
      },
      onClose: (ctx) => {
        ctx.extra.connection.operations.clear();
      },
    },
  });

  return {
    get sockets() {
      return adapter.sockets;
    },
    get operations() {
      return adapter.operations;
    },
    get bufferedBytes() {
      return adapter.bufferedBytes;
    },
    get messagesReceived() {
      return adapter.messagesReceived;
    },
    closesByCode: adapter.closesByCode,
    sharedStats: statsFanOut.metrics,
    async close(graceMs = 5_000) {
      statsFanOut.stop();
      await adapter.close(graceMs);
    },
  };
}
