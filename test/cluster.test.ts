import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, insertAvailableConsultant } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { spawnEntryPoint } from './support/entry-point.js';

const dispose = disposeAfterEach();

interface Subscriber {
  instance: string;
  versions: string[];
}

/** A bare graphql-transport-ws subscriber of statsChanged that records which worker took it. */
async function subscribe(graphqlUrl: string): Promise<Subscriber> {
  const socket = new WebSocket(graphqlUrl.replace('http', 'ws'), 'graphql-transport-ws');
  const subscriber: Subscriber = { instance: '', versions: [] };
  socket.on('upgrade', (response) => {
    subscriber.instance = String(response.headers['x-instance']);
  });
  socket.on('error', () => {});
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as {
      type: string;
      payload?: { data?: { statsChanged?: { version: string } } };
    };
    if (message.type === 'connection_ack') {
      socket.send(
        JSON.stringify({
          id: 'live',
          type: 'subscribe',
          payload: { query: 'subscription { statsChanged { version consultants { total } } }' },
        }),
      );
    }
    const version = message.payload?.data?.statsChanged?.version;
    if (message.type === 'next' && version) subscriber.versions.push(version);
  });
  dispose.add(() => {
    socket.terminate();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`closed before opening (${code})`)));
  });
  socket.send(JSON.stringify({ type: 'connection_init' }));
  return subscriber;
}

describe('WEB_CONCURRENCY: worker processes sharing the port', () => {
  it('pushes one write once to subscribers of both workers, and stops both on SIGTERM', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const server = await spawnEntryPoint({
      disposer: dispose,
      env: {
        DATABASE_URL: database.url,
        HOST: '127.0.0.1',
        PORT: '0',
        NODE_ENV: 'test',
        ALLOW_ANONYMOUS_READS: 'true',
        WEB_CONCURRENCY: '2',
      },
    });
    await waitFor(() => server.output().includes('every worker is serving'), 60_000);

    // New connections go to the workers in turn: a few sockets land on both.
    const subscribers: Subscriber[] = [];
    const instances = () => new Set(subscribers.map((subscriber) => subscriber.instance));
    while (subscribers.length < 4 || instances().size < 2) {
      if (subscribers.length >= 20) throw new Error(`all sockets on ${[...instances()]}`);
      subscribers.push(await subscribe(server.graphqlUrl));
    }
    expect([...instances()].sort()).toEqual(['worker-1', 'worker-2']);
    await waitFor(() => subscribers.every((subscriber) => subscriber.versions.length > 0), 30_000);
    const first = subscribers[0]?.versions.at(-1) ?? '';
    const newest = (subscriber: Subscriber) => BigInt(subscriber.versions.at(-1) ?? 0);

    await insertAvailableConsultant(database.url, 'cluster.1@example.test');
    await waitFor(() => subscribers.every((s) => newest(s) > BigInt(first)), 30_000);
    const afterOne = subscribers[0]?.versions.at(-1) ?? '';
    expect(subscribers.map((s) => s.versions.at(-1))).toEqual(subscribers.map(() => afterOne));

    // A second write: anything still coming for the first one would arrive before it.
    await insertAvailableConsultant(database.url, 'cluster.2@example.test');
    await waitFor(() => subscribers.every((s) => newest(s) > BigInt(afterOne)), 30_000);
    for (const subscriber of subscribers) {
      expect(subscriber.versions.filter((version) => version === afterOne)).toHaveLength(1);
    }

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // Both workers stopped gracefully, not cut.
    expect(server.output().match(/"msg":"stopped"/g)).toHaveLength(2);
  }, 120_000);
});
