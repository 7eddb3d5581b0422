import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { disposeAfterAll, disposeAfterEach, waitFor } from './support/dispose.js';
import { startTestServer, type TestServer } from './support/server.js';

const PROTOCOL = 'graphql-transport-ws';
const serverDisposer = disposeAfterAll();
const dispose = disposeAfterEach();

interface RawSocket {
  socket: WebSocket;
  /** Every message received, parsed. */
  messages: { type: string; id?: string; payload?: unknown }[];
  closed: Promise<{ code: number; reason: string; afterMs: number }>;
  send(message: unknown): void;
}

/** A bare `ws` socket speaking (or abusing) the protocol by hand. */
async function openRaw(
  server: TestServer,
  options: WebSocket.ClientOptions = {},
): Promise<RawSocket> {
  const socket = new WebSocket(server.graphqlUrl.replace('http', 'ws'), PROTOCOL, options);
  const opened = Date.now();
  const messages: RawSocket['messages'] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  // A refused or cut socket reports an error before closing; the close code is what is asserted.
  socket.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string; afterMs: number }>((resolve) => {
    socket.once('close', (code, reason) =>
      resolve({ code, reason: String(reason), afterMs: Date.now() - opened }),
    );
  });
  dispose.add(async () => {
    if (socket.readyState !== WebSocket.CLOSED) {
      socket.terminate();
      await closed;
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`closed before opening (${code})`)));
  });
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
  };
}

async function openAcknowledged(server: TestServer, options?: WebSocket.ClientOptions) {
  const raw = await openRaw(server, options);
  raw.send({ type: 'connection_init' });
  await waitFor(() => raw.messages.some((message) => message.type === 'connection_ack'));
  return raw;
}

const STATS_SUBSCRIPTION = 'subscription { statsChanged { version } }';
/** About 50 kB of answer, served from the stats cache after the first: cheap to produce. */
const BULKY_QUERY = `{ stats { ${Array.from(
  { length: 15 },
  (_, i) => `s${i}: topSkills(first: 50) { skillId name category consultants }`,
).join(' ')} } }`;

let server: TestServer;
/** A well-behaved subscriber that must outlive every abuse below. */
let bystander: Client;
const bystanderPushes: string[] = [];

beforeAll(async () => {
  server = await startTestServer(
    {
      WS_MAX_SOCKETS_PER_ADDRESS: '6',
      WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
    },
    { disposer: serverDisposer },
  );
  bystander = createClient({
    url: server.graphqlUrl.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  bystander.subscribe<{ statsChanged: { version: string } }>(
    { query: STATS_SUBSCRIPTION },
    {
      next: (result) => {
        if (result.data) bystanderPushes.push(result.data.statsChanged.version);
      },
      error: (error) => bystanderPushes.push(`error: ${JSON.stringify(error)}`),
      complete: () => {},
    },
  );
  await waitFor(() => bystanderPushes.length > 0);
});

afterAll(async () => {
  await bystander?.dispose();
});

describe('graphql-ws abuse is answered with the protocol close codes', () => {
  it('4400 for a message that is not JSON', async () => {
    const raw = await openRaw(server);
    raw.send('this is not json');
    expect((await raw.closed).code).toBe(4400);
  });

  it('4408 when connection_init does not come within 3 s', async () => {
    const raw = await openRaw(server);
    const closed = await raw.closed;
    expect(closed.code).toBe(4408);
    // The deadline cannot fire early, whatever the load.
    expect(closed.afterMs).toBeGreaterThanOrEqual(2_900);
  });

  it('4429 for a second connection_init', async () => {
    const raw = await openAcknowledged(server);
    raw.send({ type: 'connection_init' });
    expect((await raw.closed).code).toBe(4429);
  });

  it('4401 for a subscribe before the ack', async () => {
    const raw = await openRaw(server);
    raw.send({ id: '1', type: 'subscribe', payload: { query: '{ practices { id } }' } });
    expect((await raw.closed).code).toBe(4401);
  });

  it('4409 for a second operation under a running id', async () => {
    const raw = await openAcknowledged(server);
    raw.send({ id: 'a', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    await waitFor(() => raw.messages.some((message) => message.id === 'a'));
    raw.send({ id: 'a', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    expect((await raw.closed).code).toBe(4409);
  });

  it('1009 for a frame over WS_MAX_PAYLOAD_BYTES (1 MiB)', async () => {
    const raw = await openAcknowledged(server);
    raw.send({
      id: 'big',
      type: 'subscribe',
      payload: { query: `{ practices { id } } # ${'x'.repeat(1_100_000)}` },
    });
    expect((await raw.closed).code).toBe(1009);
  });

  it('1013 for a socket over WS_MAX_SOCKETS_PER_ADDRESS, which the graphql-ws client retries', async () => {
    await waitFor(() => server.app.webSockets?.sockets === 1); // the bystander
    const sockets = [];
    for (let i = 0; i < 5; i += 1) sockets.push(await openAcknowledged(server));
    const refused = await openRaw(server);
    const closed = await refused.closed;
    // "Try Again Later": 4429 would mean a second connection_init, which the client never retries.
    expect(closed).toMatchObject({ code: 1013, reason: 'Too many connections' });

    // A graphql-ws client refused for this reason keeps trying, and gets in once a socket left.
    const refusals: number[] = [];
    const patient = createClient({
      url: server.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 1_000,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
      on: { closed: (event) => refusals.push((event as { code: number }).code) },
    });
    dispose.add(() => patient.dispose());
    const answered = new Promise<unknown>((resolve, reject) => {
      patient.subscribe(
        { query: '{ practices { name } }' },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    await waitFor(() => refusals.length >= 2);
    expect(new Set(refusals)).toEqual(new Set([1013]));
    sockets[0]?.socket.close(1000);
    await sockets[0]?.closed;
    expect(JSON.stringify(await answered)).toMatch(/"practices":\[\{"name"/);
    await patient.dispose();
    await waitFor(() => server.app.webSockets?.sockets === 5);
    const accepted = await openAcknowledged(server);
    expect(accepted.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses an operation over WS_MAX_SUBSCRIPTIONS_PER_SOCKET with an error, keeping the socket', async () => {
    const raw = await openAcknowledged(server);
    raw.send({ id: '1', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    raw.send({ id: '2', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    await waitFor(() => ['1', '2'].every((id) => raw.messages.some((m) => m.id === id)));
    const before = server.sqlCounter.total;
    raw.send({ id: '3', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    const refusal = await waitFor(() => raw.messages.find((message) => message.id === '3'));
    expect(refusal.type).toBe('error');
    expect(JSON.stringify(refusal.payload)).toMatch(/TOO_MANY_OPERATIONS/);
    expect(server.sqlCounter.total).toBe(before);

    // Completing one makes room again.
    raw.send({ id: '1', type: 'complete' });
    await waitFor(() => server.app.webSockets?.operations === 2); // the bystander's and '2'
    raw.send({ id: '4', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    const accepted = await waitFor(() => raw.messages.find((message) => message.id === '4'));
    expect(accepted.type).toBe('next');
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('terminates a peer that stops answering pings, and keeps one that answers', async () => {
    const pinging = await startTestServer(
      { WS_KEEPALIVE_MS: '1000' },
      { disposer: dispose, database: server.databaseUrl },
    );
    const answering = await openAcknowledged(pinging);
    let pings = 0;
    answering.socket.on('ping', () => {
      pings += 1;
    });
    const silent = await openAcknowledged(pinging, { autoPong: false });
    // Cut without a close frame: the client sees 1006.
    expect((await silent.closed).code).toBe(1006);
    await waitFor(() => pings >= 2, 15_000);
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('closes 1013 a socket whose unsent backlog passes WS_MAX_BUFFERED_BYTES', async () => {
    // Another instance on the same database: room for many operations, and no pings (the
    // paused client could not answer them, and would be cut for that instead).
    const roomy = await startTestServer(
      {
        WS_MAX_BUFFERED_BYTES: '262144',
        WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '1000',
        WS_KEEPALIVE_MS: '0',
      },
      { disposer: dispose, database: server.databaseUrl },
    );
    const raw = await openAcknowledged(roomy);
    const bound = 262_144;
    // Stop reading: what the server sends now fills the socket buffers, then ws' own.
    // biome-ignore lint/suspicious/noExplicitAny: the underlying net.Socket is not part of ws' typings.
    const tcp = (raw.socket as any)._socket as import('node:net').Socket;
    tcp.pause();
    let sent = 0;
    const send = (count: number) => {
      for (let i = 0; i < count; i += 1, sent += 1) {
        raw.send({ id: `q${sent}`, type: 'subscribe', payload: { query: BULKY_QUERY } });
      }
    };
    const histogram = roomy.app.metrics.registry.getSingleMetric(
      'graphql_operation_duration_seconds',
    );
    const executed = async () => {
      const { values } = (await histogram?.get()) ?? { values: [] };
      return values
        .filter((value) => (value as { metricName?: string }).metricName?.endsWith('_count'))
        .reduce((sum, value) => sum + value.value, 0);
    };
    // How much the kernel's buffers absorb before ws has to hold bytes itself depends on the
    // machine and its load: ask for more answers, a batch at a time, until ws holds more than
    // the bound (not for a fixed count, which a roomy kernel buffer could swallow whole).
    await waitFor(async () => {
      if ((roomy.app.webSockets?.bufferedBytes ?? 0) > bound) return true;
      if ((await executed()) >= sent) send(50);
      return false;
    }, 60_000);
    // The check before the next answer closes the socket (if an earlier one has not already).
    send(1);
    tcp.resume();
    const closed = await raw.closed;
    expect(closed).toMatchObject({ code: 1013, reason: 'Client reads too slowly' });
    // Answers stopped at the bound: fewer than asked for reached the client.
    expect(raw.messages.filter((message) => message.type === 'next').length).toBeLessThan(sent);
  }, 90_000);

  it('holds a client that never reads to the operation cap and the buffered-bytes bound', async () => {
    const cap = 5;
    const bound = 1_048_576;
    const stingy = await startTestServer(
      {
        WS_MAX_BUFFERED_BYTES: String(bound),
        WS_MAX_SUBSCRIPTIONS_PER_SOCKET: String(cap),
        WS_KEEPALIVE_MS: '0',
      },
      { disposer: dispose, database: server.databaseUrl },
    );
    const endpoint = () => stingy.app.webSockets;
    const raw = await openAcknowledged(stingy);
    raw.send({ id: 'live', type: 'subscribe', payload: { query: STATS_SUBSCRIPTION } });
    await waitFor(() => raw.messages.some((message) => message.id === 'live'));
    // biome-ignore lint/suspicious/noExplicitAny: the underlying net.Socket is not part of ws' typings.
    const tcp = (raw.socket as any)._socket as import('node:net').Socket;
    tcp.pause();
    let mostOperations = 0;
    let mostBuffered = 0;
    const watch = () => {
      mostOperations = Math.max(mostOperations, endpoint()?.operations ?? 0);
      mostBuffered = Math.max(mostBuffered, endpoint()?.bufferedBytes ?? 0);
    };
    const watching = setInterval(watch, 5);
    let sent = 0;
    const send = (count: number) => {
      for (let i = 0; i < count; i += 1, sent += 1) {
        raw.send({ id: `q${sent}`, type: 'subscribe', payload: { query: BULKY_QUERY } });
      }
    };
    try {
      // Answers fill the kernel's buffers (tens of MB on loopback), a few operations at a time,
      // until the server starts holding unsent bytes itself (or gives up on the socket).
      const stuck = () =>
        endpoint()?.sockets === 0 ||
        ((endpoint()?.bufferedBytes ?? 0) > 0 && (endpoint()?.operations ?? 0) > 1);
      await waitFor(async () => {
        send(cap - 1);
        await waitFor(() => (endpoint()?.operations ?? 0) <= 1 || stuck(), 10_000);
        if (!stuck()) return false;
        // Still stuck once the server has had time to flush: the kernel's buffers are full.
        await stingy.waitForIdle(300);
        return stuck();
      }, 60_000);
      // Then many more operations, none of whose answers can leave.
      send(300);
      const last = sent;
      await waitFor(
        () =>
          mostOperations > cap ||
          endpoint()?.sockets === 0 ||
          (endpoint()?.messagesReceived ?? 0) >= last + 2,
        30_000,
      );
    } finally {
      clearInterval(watching);
    }
    watch();
    expect(mostOperations).toBeLessThanOrEqual(cap);
    // One answer may be in flight past the bound when it is crossed, never a pile of them.
    expect(mostBuffered).toBeLessThanOrEqual(bound + 65_536);
    tcp.resume();
  }, 90_000);

  it('kept serving the well-behaved subscriber and new clients throughout', async () => {
    expect(bystanderPushes.filter((push) => push.startsWith('error'))).toEqual([]);
    const client = createClient({
      url: server.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    dispose.add(() => client.dispose());
    const result = await new Promise<unknown>((resolve, reject) => {
      client.subscribe(
        { query: '{ practices { name } }' },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    expect(JSON.stringify(result)).toMatch(/"practices":\[\{"name"/);
    await waitFor(() => server.app.webSockets?.operations === 1); // the bystander's, alone again

    // Operators see the abuse by close code.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const code of [1013, 4400, 4401, 4408, 4409, 4429]) {
      expect(metrics).toMatch(new RegExp(`^websocket_closes_total\\{code="${code}"\\} [1-9]`, 'm'));
    }
  });
});
