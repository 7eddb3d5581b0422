import v8 from 'node:v8';
import vm from 'node:vm';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { disposeAfterAll, waitFor } from './support/dispose.js';
import { startTestServer } from './support/server.js';

const dispose = disposeAfterAll();

const CLIENTS = 500;
const CONCURRENCY = 50;
/** Heap growth tolerated after the run; what is retained per client would show far above it. */
const HEAP_TOLERANCE_BYTES = 16 * 1024 * 1024;

/** A full collection, so heap readings compare live objects rather than garbage. */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

describe('soak: graphql-ws clients connecting, subscribing and leaving', () => {
  it(`${CLIENTS} clients come and go without errors; sockets, subscriptions and heap return to baseline`, async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const gc = collectGarbage();
    const url = server.graphqlUrl.replace('http', 'ws');
    const errors: unknown[] = [];

    /** One client's life: connect, subscribe, get the current stats, leave. */
    async function visit() {
      const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
      try {
        await new Promise<void>((resolve, reject) => {
          const unsubscribe = client.subscribe<{ statsChanged: { version: string } }>(
            { query: 'subscription { statsChanged { version consultants { total } } }' },
            {
              next: (result) => {
                if (result.errors) reject(new Error(JSON.stringify(result.errors)));
                else if (result.data?.statsChanged.version) {
                  unsubscribe();
                  resolve();
                }
              },
              error: reject,
              complete: () => {},
            },
          );
        });
      } finally {
        await client.dispose();
      }
    }

    // A few rounds first, so lazily built things (schema caches, JIT) are in the baseline.
    for (let i = 0; i < 20; i += 1) await visit();
    await waitFor(() => server.app.webSockets?.sockets === 0, 10_000);
    const baseline = await settledHeap(gc);

    let started = 0;
    let finished = 0;
    const worker = async () => {
      while (started < CLIENTS) {
        started += 1;
        try {
          await visit();
        } catch (error) {
          errors.push(error);
        }
        finished += 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(finished).toBe(CLIENTS);
    expect(errors).toEqual([]);
    await waitFor(
      () =>
        server.app.webSockets?.sockets === 0 &&
        server.app.webSockets.operations === 0 &&
        server.app.stats?.metrics.subscribers === 0,
      15_000,
    );
    const after = await settledHeap(gc);
    expect(after - baseline).toBeLessThan(HEAP_TOLERANCE_BYTES);

    // Still serving.
    await visit();
  }, 180_000);
});
