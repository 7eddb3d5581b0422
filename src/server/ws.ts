import type http from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { WebSocketConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { createStatsFanOut, type StatsFanOutMetrics } from './stats-fanout.js';
import type { Yoga } from './yoga.js';

/**
 * Close codes this module sends itself. graphql-ws sends the protocol's own:
 * 4400 bad message, 4401 subscribe before ack, 4403 forbidden, 4408 no
 * `connection_init` in time, 4409 duplicate operation id, 4429 second
 * `connection_init`; `ws` sends 1009 for a frame over `maxPayload`.
 */
export const WebSocketCloseCode = {
  /** Server shutdown. */
  GoingAway: 1001,
  /** The client reads too slowly: its unsent backlog passed `maxBufferedBytes`. */
  TryAgainLater: 1013,
  /** Too many sockets from one client address. */
  TooManyConnections: 4429,
} as const;

export interface WebSocketEndpoint {
  /** Open sockets right now. */
  readonly sockets: number;
  /** Operations running on all sockets right now. */
  readonly operations: number;
  /** Sockets closed so far, by the close code the server saw (abuse shows here: 4400, 4408, 4429…). */
  readonly closesByCode: ReadonlyMap<number, number>;
  /** Identical statsChanged subscriptions served by one execution each (see stats-fanout.ts). */
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
  onConnect?: ServerOptions['onConnect'];
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/** The client address as the socket sees it (a reverse proxy's, when behind one). */
function clientAddress(request: http.IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

/**
 * graphql-ws on the same path as HTTP GraphQL. Every operation goes through
 * `yoga.getEnveloped`, so the WebSocket transport gets the same context
 * factory, plugins, limits and error masking as HTTP: there is no second
 * context pipeline to drift.
 *
 * Abuse limits: `maxPayload` per frame, a `connection_init` deadline, ping/pong
 * keep-alive (a peer that stops answering is terminated), a cap on operations
 * per socket and on sockets per client address, and a bound on each socket's
 * unsent backlog. A subscription only pulls its next event once the previous
 * one is flushed, so a slow `statsChanged` reader gets the latest version only
 * (the stats publisher keeps one value per subscriber); what still piles up
 * past the bound (many operations on a socket nobody reads) closes it.
 */
export function attachWebSocketServer(
  server: http.Server,
  yoga: Yoga,
  options: WebSocketOptions,
): WebSocketEndpoint {
  const { log } = options;
  const wss = new WebSocketServer({
    server,
    path: options.path ?? yoga.graphqlEndpoint,
    maxPayload: options.maxPayloadBytes,
  });
  const socketsByAddress = new Map<string, number>();
  const closesByCode = new Map<number, number>();
  // Connection contexts that subscribed at least once, for counting running operations.
  const contexts = new Set<{ subscriptions: Record<string, unknown> }>();

  // Registered before graphql-ws' own listener, so a refused socket is closed before it is served.
  wss.on('connection', (socket, request) => {
    const address = clientAddress(request);
    const count = (socketsByAddress.get(address) ?? 0) + 1;
    socketsByAddress.set(address, count);
    socket.once('close', (code) => {
      closesByCode.set(code, (closesByCode.get(code) ?? 0) + 1);
      const left = (socketsByAddress.get(address) ?? 1) - 1;
      if (left <= 0) socketsByAddress.delete(address);
      else socketsByAddress.set(address, left);
    });
    if (count > options.maxSocketsPerAddress) {
      log.warn({ address, sockets: count }, 'websocket refused: too many sockets from one address');
      socket.close(WebSocketCloseCode.TooManyConnections, 'Too many connections');
    }
  });

  const closeIfBacklogged = (socket: WebSocket): void => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount <= options.maxBufferedBytes) return;
    log.warn({ bufferedBytes: socket.bufferedAmount }, 'websocket closed: client reads too slowly');
    // Once closing, graphql-ws sends nothing more to it: the backlog stops growing here.
    socket.close(WebSocketCloseCode.TryAgainLater, 'Client reads too slowly');
  };

  const statsFanOut = createStatsFanOut({
    log,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
  });

  const disposable = useServer(
    {
      connectionInitWaitTimeout: options.connectionInitTimeoutMs,
      onConnect: options.onConnect,
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        contexts.add(ctx);
        // The operation being subscribed is already registered in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerSocket) {
          return [
            new GraphQLError(
              `Too many operations on this socket: at most ${options.maxSubscriptionsPerSocket} at a time.`,
              { extensions: { code: 'TOO_MANY_OPERATIONS' } },
            ),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(params.query);
        } catch (error) {
          return [error as never];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
      onClose: (ctx) => {
        contexts.delete(ctx);
      },
      onNext: (ctx) => {
        closeIfBacklogged(ctx.extra.socket);
      },
      onOperation: (ctx, id, params, args, result) =>
        statsFanOut.share(ctx.extra.socket, id, params, args, result),
    },
    wss,
    options.keepAliveMs,
  );

  // graphql-ws reports socket errors (an oversize or malformed frame) with console.error and
  // listens once only; ws has already closed such a socket with the fitting code (1009, 1002…).
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error) => log.warn({ reason: error.message }, 'websocket frame refused'));
  });

  return {
    get sockets() {
      return wss.clients.size;
    },
    closesByCode,
    sharedStats: statsFanOut.metrics,
    get operations() {
      let running = 0;
      for (const ctx of contexts) running += Object.keys(ctx.subscriptions).length;
      return running;
    },
    async close(graceMs = 5_000) {
      statsFanOut.stop();
      for (const socket of wss.clients) {
        socket.close(WebSocketCloseCode.GoingAway, 'Server shutting down');
      }
      // ws waits for every closing handshake, and a vanished peer never answers.
      const cut = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, graceMs);
      try {
        await disposable.dispose();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
