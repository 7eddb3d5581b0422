/**
 * A client process holding many `statsChanged` subscribers, one graphql-ws
 * socket each, driven by bench/lib/subscribers.ts over the IPC channel.
 * Spreading subscribers over a few such processes keeps the client side
 * from being what the push-latency figures measure.
 *
 * It records, per subscriber, when each version arrived (wall-clock ms, so
 * the parent can subtract the commit time it took in another process).
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { epochMs, sleep } from './lib/measure.js';
import type { WorkerReply, WorkerRequest } from './lib/subscribers.js';

interface Subscriber {
  client: Client;
  /** Recent arrivals, oldest first; bounded so a write flood cannot grow it. */
  history: { version: bigint; at: number }[];
}

const HISTORY = 64;
/** Connections opened at once: a herd of thousands of handshakes would time out on two cores. */
const CONNECT_BATCH = 200;

const subscribers: Subscriber[] = [];
let received = 0;
let errors = 0;
let pending:
  | { after: bigint; arrivals: (number | undefined)[]; remaining: number; done: () => void }
  | undefined;

function reply(message: WorkerReply): void {
  process.send?.(message);
}

function onValue(index: number, version: bigint): void {
  received += 1;
  const subscriber = subscribers[index];
  if (!subscriber) return;
  const at = epochMs();
  subscriber.history.push({ version, at });
  if (subscriber.history.length > HISTORY) subscriber.history.shift();
  if (pending && pending.arrivals[index] === undefined && version > pending.after) {
    pending.arrivals[index] = at;
    pending.remaining -= 1;
    if (pending.remaining === 0) pending.done();
  }
}

async function connect(
  url: string,
  count: number,
  query: string,
  operationId?: string,
): Promise<string> {
  for (let start = 0; start < count; start += CONNECT_BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + CONNECT_BATCH); i += 1) {
      const index = subscribers.length;
      const client = createClient({
        url,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        ...(operationId ? { generateID: () => operationId } : {}),
        onNonLazyError: () => {
          errors += 1;
        },
      });
      const subscriber: Subscriber = { client, history: [] };
      subscribers.push(subscriber);
      batch.push(
        new Promise<void>((resolve) => {
          client.subscribe<{ statsChanged: { version: string } }>(
            { query },
            {
              next: (result) => {
                const version = result.data?.statsChanged.version;
                if (version === undefined) {
                  errors += 1;
                  return;
                }
                onValue(index, BigInt(version));
                resolve();
              },
              error: () => {
                errors += 1;
                resolve();
              },
              complete: () => resolve(),
            },
          );
        }),
      );
    }
    await Promise.all(batch);
  }
  let newest = 0n;
  for (const subscriber of subscribers) {
    const last = subscriber.history.at(-1);
    if (last && last.version > newest) newest = last.version;
  }
  return newest.toString();
}

/** Resolves when every subscriber has a version newer than `after`, or at the timeout. */
async function awaitNewer(after: bigint, timeoutMs: number): Promise<WorkerReply> {
  const arrivals: (number | undefined)[] = subscribers.map(
    (subscriber) => subscriber.history.find((entry) => entry.version > after)?.at,
  );
  const remaining = arrivals.filter((at) => at === undefined).length;
  if (remaining > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pending = {
        after,
        arrivals,
        remaining,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
    pending = undefined;
  }
  const got = arrivals.filter((at): at is number => at !== undefined);
  let newest = after;
  for (const subscriber of subscribers) {
    const last = subscriber.history.at(-1);
    if (last && last.version > newest) newest = last.version;
  }
  return {
    type: 'arrived',
    arrivals: got,
    missing: arrivals.length - got.length,
    newest: newest.toString(),
  };
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'connect':
      reply({
        type: 'connected',
        newest: await connect(request.url, request.count, request.query, request.operationId),
      });
      return;
    case 'await':
      reply(await awaitNewer(BigInt(request.after), request.timeoutMs));
      return;
    case 'counts':
      reply({ type: 'counts', received, errors, open: subscribers.length });
      return;
    case 'close':
      await Promise.all(subscribers.map((subscriber) => subscriber.client.dispose()));
      // Let the close frames leave before the process goes.
      await sleep(50);
      reply({ type: 'closed' });
      process.disconnect?.();
      return;
  }
}

process.on('message', (request: WorkerRequest) => {
  handle(request).catch((error: unknown) => {
    reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  });
});
