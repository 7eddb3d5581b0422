import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';

/**
 * Close codes this adapter sends itself. graphql-ws sends the protocol's own
 * (4400 bad message, 4401 subscribe before ack, 4403 forbidden, 4408 no
 * `connection_init` in time, 4409 duplicate operation id, 4429 second
 * `connection_init`); `ws` sends 1009 for a frame over `maxPayload`.
 * Both codes below are ones the graphql-ws client retries.
 */
export const WebSocketCloseCode = {
  /** Server shutdown. */
  GoingAway: 1001,
  /**
   * "Try Again Later": the client reads too slowly (its unsent backlog passed
   * `maxBufferedBytes`), or its address holds too many sockets already.
   */
  TryAgainLater: 1013,
} as const;

/**
 * One accepted graphql-ws socket, as graphql-ws' `ctx.extra` carries it.
 * `socket` and `request` keep the names graphql-ws' own `use/ws` gives them.
 */
export interface GraphQLWsConnection {
  readonly socket: WebSocket;
  readonly request: http.IncomingMessage;
  /**
   * The upgraded byte stream under `socket`. The stats fan-out writes whole
   * pre-built text frames to it (see stats-fanout.ts); this is safe because
   * `ws` writes every frame of its own synchronously (no compression is
   * negotiated and nothing sends Blobs), so frames never interleave.
   */
  readonly stream: Duplex;
  /** Operation ids accepted and not finished (refused ones never count). */
  readonly operations: Set<string>;
  /** True while the socket is open and may be written. */
  readonly open: boolean;
  /**
   * False once the unsent backlog passed the bound, after closing the socket
   * with 1013: nothing more should be queued for it.
   */
  withinBacklog(): boolean;
}

/** graphql-ws' `ctx.extra` for sockets served by this adapter. */
export interface Extra {
  readonly socket: WebSocket;
  readonly request: http.IncomingMessage;
  readonly connection: GraphQLWsConnection;
}

export interface GraphQLWsAdapterOptions {
  server: http.Server;
  path: string;
  log: Logger;
  /** Largest frame accepted; `ws` closes 1009 past it. */
  maxPayloadBytes: number;
  /** Ping period; a peer that has not answered by the next ping is terminated (0: off). */
  keepAliveMs: number;
  /** Unsent bytes a socket may hold before it is closed 1013. */
  maxBufferedBytes: number;
  /** Open sockets per client address; one more is closed 1013 once upgraded. */
  maxSocketsPerAddress: number;
  /** Sent as `X-Instance` on every upgrade response when set. */
  instance?: string;
  /** The protocol core's options (hooks, timeouts); handed to graphql-ws' `makeServer`. */
  graphqlWs: ServerOptions<Record<string, unknown> | undefined, Extra>;
}

export interface GraphQLWsAdapter {
  readonly sockets: number;
  /** Operations running on all sockets. */
  readonly operations: number;
  /** Unsent bytes held for all sockets. */
  readonly bufferedBytes: number;
  /** Messages received and handed to the protocol core. */
  readonly messagesReceived: number;
  /** Sockets closed so far, by close code. */
  readonly closesByCode: ReadonlyMap<number, number>;
  /** Closes every socket with 1001; peers that do not complete the closing handshake within `graceMs` are cut. */
  close(graceMs: number): Promise<void>;
}

const KEEPALIVE_SLICES = 8;

/** The client address as the socket sees it (a reverse proxy's, when behind one). */
function clientAddress(request: http.IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

/**
 * graphql-ws' protocol core (`makeServer`) over `ws`, written the way
 * graphql-ws' own `use/ws` is, plus what a public endpoint needs: a cap on
 * sockets per address, a bound on each socket's unsent backlog (checked on
 * every message, so refusals and completions count too), messages ignored
 * once a socket is closing, socket errors logged instead of printed, and the
 * upgraded stream kept for pre-framed writes.
 */
export function serveGraphQLWs(options: GraphQLWsAdapterOptions): GraphQLWsAdapter {
  const { log } = options;
  const core = makeServer<Record<string, unknown> | undefined, Extra>(options.graphqlWs);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    handleProtocols,
    // Pre-framed writes go straight to the stream: no per-message compression.
    perMessageDeflate: false,
  });
  if (options.instance) {
    const header = `X-Instance: ${options.instance}`;
    wss.on('headers', (headers) => headers.push(header));
  }
  const connections = new Set<GraphQLWsConnection>();
  const socketsByAddress = new Map<string, number>();
  const closesByCode = new Map<number, number>();
  let messagesReceived = 0;
  // Keep-alive on one timer for every socket (not a timer and a pong closure per socket, as
  // use/ws has), spread over KEEPALIVE_SLICES ticks so ten thousand pings never leave at once:
  // a socket that has not answered the previous ping by its next turn is cut.
  const alive = new WeakSet<GraphQLWsConnection>();
  const keepAliveSlice = new WeakMap<GraphQLWsConnection, number>();
  let accepted = 0;
  let tick = 0;
  const keepAlive =
    options.keepAliveMs > 0
      ? setInterval(() => {
          tick = (tick + 1) % KEEPALIVE_SLICES;
          for (const connection of connections) {
            if (keepAliveSlice.get(connection) !== tick) continue;
            if (connection.socket.readyState !== WebSocket.OPEN) continue;
            if (!alive.has(connection)) {
              connection.socket.terminate();
              continue;
            }
            alive.delete(connection);
            connection.socket.ping();
          }
        }, options.keepAliveMs / KEEPALIVE_SLICES)
      : null;

  function accept(socket: WebSocket, request: http.IncomingMessage, stream: Duplex): void {
    const address = clientAddress(request);
    const count = (socketsByAddress.get(address) ?? 0) + 1;
    socketsByAddress.set(address, count);

    const closeTooSlow = () => {
      log.warn(
        { bufferedBytes: socket.bufferedAmount },
        'websocket closed: client reads too slowly',
      );
      socket.close(WebSocketCloseCode.TryAgainLater, 'Client reads too slowly');
    };
    const connection: GraphQLWsConnection = {
      socket,
      request,
      stream,
      operations: new Set(),
      get open() {
        return socket.readyState === WebSocket.OPEN;
      },
      withinBacklog() {
        if (socket.readyState !== WebSocket.OPEN) return false;
        if (socket.bufferedAmount <= options.maxBufferedBytes) return true;
        closeTooSlow();
        return false;
      },
    };
    connections.add(connection);

    // ws has already closed a socket that sent a bad frame with the fitting code (1009, 1002…).
    socket.on('error', (error) => log.warn({ reason: error.message }, 'websocket frame refused'));

    socket.on('pong', () => alive.add(connection));
    alive.add(connection);
    keepAliveSlice.set(connection, accepted++ % KEEPALIVE_SLICES);

    const closed = core.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve) => {
            if (!connection.withinBacklog()) return resolve();
            // Resolves once the bytes left for the kernel, so a subscription pulls its next
            // event only then: a slow reader gets the newest one. A write that fails belongs
            // to a socket that is going away; its close event does the cleanup.
            socket.send(data, () => resolve());
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            // ws still reads while the closing handshake runs; nothing new starts then.
            if (socket.readyState !== WebSocket.OPEN) return;
            messagesReceived += 1;
            try {
              await handle(String(data));
            } catch (error) {
              log.error({ err: error }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request, connection },
    );

    socket.once('close', (code, reason) => {
      alive.delete(connection);
      connections.delete(connection);
      closesByCode.set(code, (closesByCode.get(code) ?? 0) + 1);
      const left = (socketsByAddress.get(address) ?? 1) - 1;
      if (left <= 0) socketsByAddress.delete(address);
      else socketsByAddress.set(address, left);
      closed(code, String(reason)).catch((error: unknown) =>
        log.error({ err: error }, 'graphql-ws close handling failed'),
      );
    });

    if (count > options.maxSocketsPerAddress) {
      log.warn({ address, sockets: count }, 'websocket refused: too many sockets from one address');
      socket.close(WebSocketCloseCode.TryAgainLater, 'Too many connections');
    }
  }

  const onUpgrade = (request: http.IncomingMessage, stream: Duplex, head: Buffer) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== options.path) {
      stream.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, stream, head, (socket) => accept(socket, request, stream));
  };
  options.server.on('upgrade', onUpgrade);

  return {
    get sockets() {
      return connections.size;
    },
    get operations() {
      let running = 0;
      for (const connection of connections) running += connection.operations.size;
      return running;
    },
    get bufferedBytes() {
      let total = 0;
      for (const connection of connections) total += connection.socket.bufferedAmount;
      return total;
    },
    get messagesReceived() {
      return messagesReceived;
    },
    closesByCode,
    async close(graceMs) {
      options.server.off('upgrade', onUpgrade);
      if (keepAlive) clearInterval(keepAlive);
      const gone = [...connections].map(
        (connection) =>
          new Promise<void>((resolve) => {
            if (connection.socket.readyState === WebSocket.CLOSED) return resolve();
            connection.socket.once('close', () => resolve());
            connection.socket.close(WebSocketCloseCode.GoingAway, 'Server shutting down');
          }),
      );
      // A vanished peer never answers the closing handshake.
      const cut = setTimeout(() => {
        for (const connection of connections) connection.socket.terminate();
      }, graceMs);
      try {
        await Promise.all(gone);
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
