import http from 'node:http';
import type { Socket } from 'node:net';
import type { Yoga } from './yoga.js';

export interface HttpServer {
  server: http.Server;
  listen(port: number, host: string): Promise<{ port: number }>;
  /** Stops accepting, lets in-flight requests finish up to `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/**
 * Wraps yoga in a node HTTP server that tracks its sockets: `server.close()`
 * alone waits forever on keep-alive connections, so shutdown ends idle ones
 * at once and busy ones after a grace period.
 */
export function createHttpServer(yoga: Yoga): HttpServer {
  const server = http.createServer(
    // A client that trickles its headers or body (slowloris) holds a socket only this long.
    // Responses are not bounded by these: SSE subscriptions stream for as long as they last.
    { headersTimeout: 10_000, requestTimeout: 30_000 },
    yoga,
  );
  const sockets = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  let closing = false;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // An upgraded socket belongs to the WebSocket server, which closes it with a proper close frame.
  server.on('upgrade', (_request, socket: Socket) => sockets.delete(socket));
  server.on('request', (request, response) => {
    busy.add(request.socket);
    response.once('finish', () => {
      busy.delete(request.socket);
      // A keep-alive socket that finishes its last response during shutdown is done.
      if (closing) request.socket.destroySoon();
    });
  });

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          resolve({ port: typeof address === 'object' && address ? address.port : port });
        });
      }),
    close: async (graceMs) => {
      if (!server.listening) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
