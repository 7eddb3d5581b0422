/**
 * The reference for the push-latency ratio: a plain `ws` server that answers
 * just enough of graphql-transport-ws for the bench's graphql-ws clients
 * (ack, then the current message on subscribe) and, on `POST /broadcast`,
 * sends one pre-built `next` message to every socket with `ws`' own
 * `send` — the broadcast from ws' README, with nothing per socket but the
 * write. The message is the size of the API's dashboard push, with the
 * operation id every bench client uses.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const payloadBytes = Number(process.env.PAYLOAD_BYTES ?? 1_200);
const PROTOCOL = 'graphql-transport-ws';

function buildMessage(version: string): Buffer {
  const padding = 'x'.repeat(Math.max(0, payloadBytes - 80));
  return Buffer.from(
    JSON.stringify({
      id: '1',
      type: 'next',
      payload: { data: { statsChanged: { version, padding } } },
    }),
  );
}

let message = buildMessage('1');
const server = http.createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(200).end('ok');
    return;
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'POST' && url.pathname === '/broadcast') {
    message = buildMessage(url.searchParams.get('version') ?? '0');
    const startedAt = performance.timeOrigin + performance.now();
    // A Buffer goes out as a binary frame by default; the protocol speaks text.
    for (const client of wss.clients) client.send(message, { binary: false });
    response.writeHead(200, { 'content-type': 'text/plain' }).end(String(startedAt));
    return;
  }
  response.writeHead(404).end();
});
const wss = new WebSocketServer({
  server,
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
});
wss.on('connection', (socket) => {
  socket.on('message', (data) => {
    const { type } = JSON.parse(String(data)) as { type: string };
    if (type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (type === 'subscribe') socket.send(message, { binary: false });
  });
});
server.listen(port, host);
process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
});
