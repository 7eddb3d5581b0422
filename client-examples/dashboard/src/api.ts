import { createClient } from 'graphql-ws';
import { type Document, type ResultOf, toRequest, type VariablesOf } from '../../graphql.js';

/** What the connection indicator shows. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface ApiOptions {
  /** The GraphQL endpoint over HTTP; the WebSocket uses the same host and path. */
  endpoint: URL;
  /**
   * A bearer token for an API that asks for one: sent in the `Authorization`
   * header of HTTP requests and in graphql-ws' `connectionParams` (browsers
   * cannot set headers on a WebSocket upgrade). Read on every request, so a
   * refreshed token is picked up.
   */
  token?: () => string | undefined;
  onStateChange: (state: ConnectionState) => void;
}

export interface Subscription<D extends Document> {
  document: D;
  variables: VariablesOf<D>;
  onData: (data: ResultOf<D>) => void;
  /** A GraphQL error or a connection problem graphql-ws gave up on; the subscription starts again shortly. */
  onError: (message: string) => void;
}

export interface Api {
  /** One query over HTTP POST; rejects with the first GraphQL error's message. */
  query<D extends Document>(document: D, variables: VariablesOf<D>): Promise<ResultOf<D>>;
  /** A subscription over graphql-ws that survives reconnects; returns how to stop it. */
  subscribe<D extends Document>(subscription: Subscription<D>): () => void;
}

/** After this many connection attempts in a row fail, the API is shown as offline (still retried). */
const OFFLINE_AFTER_FAILED_ATTEMPTS = 3;
const RESUBSCRIBE_DELAY_MS = 2_000;

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string }[];
}

/** Capped exponential backoff with jitter: 0.5 s, 1 s, 2 s, 4 s, then 5 s. */
function retryDelayMs(retries: number): number {
  return Math.min(500 * 2 ** retries, 5_000) + Math.floor(Math.random() * 250);
}

function describeError(error: unknown): string {
  if (Array.isArray(error)) return error.map(describeError).join('; ');
  if (error instanceof Error) return error.message;
  const { code, reason } = (error ?? {}) as { code?: unknown; reason?: unknown };
  // What graphql-ws hands over for a connection it will not retry: the close event.
  if (typeof code === 'number') return `connection closed (${code}${reason ? ` ${reason}` : ''})`;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/**
 * The page's only link to the API: every HTTP request and the WebSocket are
 * set up here, so authentication or another endpoint is a change in one place.
 */
export function createApi({ endpoint, token, onStateChange }: ApiOptions): Api {
  const webSocketUrl = new URL(endpoint);
  webSocketUrl.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

  let failedAttempts = 0;
  const client = createClient({
    url: webSocketUrl.href,
    connectionParams: () => {
      const bearer = token?.();
      return bearer ? { authorization: `Bearer ${bearer}` } : {};
    },
    // A dashboard outlives restarts of the API: never give up reconnecting.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, retryDelayMs(retries))),
    // Pings notice a connection that died silently (a sleeping laptop, a dropped NAT entry).
    keepAlive: 10_000,
    on: {
      connecting: (isRetry) => {
        if (!isRetry) onStateChange('connecting');
      },
      connected: () => {
        failedAttempts = 0;
        onStateChange('live');
      },
      closed: () => {
        failedAttempts += 1;
        onStateChange(failedAttempts >= OFFLINE_AFTER_FAILED_ATTEMPTS ? 'offline' : 'reconnecting');
      },
    },
  });

  return {
    async query<D extends Document>(document: D, variables: VariablesOf<D>): Promise<ResultOf<D>> {
      type T = ResultOf<D>;
      const bearer = token?.();
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify(toRequest(document, variables)),
      });
      let body: GraphQLResponse<T>;
      try {
        body = (await response.json()) as GraphQLResponse<T>;
      } catch {
        throw new Error(`the API answered ${response.status} without a GraphQL response`);
      }
      const [firstError] = body.errors ?? [];
      if (firstError) throw new Error(firstError.message);
      if (!body.data) throw new Error(`the API answered ${response.status} without data`);
      return body.data;
    },

    subscribe<D extends Document>({
      document,
      variables,
      onData,
      onError,
    }: Subscription<D>): () => void {
      const request = toRequest(document, variables);
      let stopped = false;
      let unsubscribe: (() => void) | undefined;
      let retryTimer: ReturnType<typeof setTimeout> | undefined;
      // graphql-ws resubscribes by itself after a reconnect; this covers what it
      // does not retry (GraphQL errors, fatal close codes) and a server that ends the stream.
      const startAgainLater = () => {
        if (!stopped) retryTimer = setTimeout(start, RESUBSCRIBE_DELAY_MS);
      };
      function start() {
        unsubscribe = client.subscribe<ResultOf<D>>(request, {
          next: (result) => {
            if (result.errors?.length) onError(describeError(result.errors));
            else if (result.data) onData(result.data);
          },
          error: (error) => {
            if (stopped) return;
            onError(describeError(error));
            startAgainLater();
          },
          complete: startAgainLater,
        });
      }
      start();
      return () => {
        stopped = true;
        clearTimeout(retryTimer);
        unsubscribe?.();
      };
    },
  };
}
