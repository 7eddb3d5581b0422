/**
 * Subscribes to `statsChanged` over WebSocket (the graphql-ws protocol) and
 * prints one line per new version of the dashboard statistics, with the
 * latency since the server computed it. Reconnects forever, logging every
 * connection state change; Ctrl-C stops it.
 *
 *   npx tsx client-examples/subscribe-stats.ts [--url URL] [--min-interval-ms N]
 *
 * `--url` may be the HTTP URL of the API (http → ws, https → wss) or a ws:// one.
 */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type ResultOf, toRequest } from './graphql.js';
import {
  authHeaders,
  bearerToken,
  clockTime,
  DEFAULT_URL,
  describeError,
  fail,
  formatDuration,
  onInterrupt,
  parseFlags,
  parseIntFlag,
  retryDelayMs,
  STATS_CHANGED,
  statsPrinter,
  usageError,
} from './shared.js';

const USAGE =
  'npx tsx client-examples/subscribe-stats.ts [--url URL] [--min-interval-ms N (0 to 3600000)]';

const flags = parseFlags(USAGE, {
  url: { type: 'string' },
  'min-interval-ms': { type: 'string' },
});
const url = webSocketUrl(flags.url ?? DEFAULT_URL);
const minIntervalMs = parseIntFlag(USAGE, 'min-interval-ms', flags['min-interval-ms'], {
  min: 0,
  max: 3_600_000,
  fallback: 0,
});

const log = (message: string) => console.log(`[${clockTime(new Date())}] ${message}`);

/** `ws` with the bearer token on the upgrade request too, when there is one. */
class AuthenticatedWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { headers: authHeaders() });
  }
}

let stopping = false;
const token = bearerToken();
const client: Client = createClient({
  url: url.href,
  webSocketImpl: token ? AuthenticatedWebSocket : WebSocket,
  connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
  // Keep trying whatever went wrong: a restarting server, a refused connection…
  retryAttempts: Number.POSITIVE_INFINITY,
  shouldRetry: () => true,
  retryWait: async (retries) => {
    const delay = retryDelayMs(retries);
    log(`retrying in ${formatDuration(delay)} (attempt ${retries + 1})`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  },
  // Ping every 10 s so a silently dead connection is noticed and replaced.
  keepAlive: 10_000,
  on: {
    connecting: (isRetry) => log(`connecting to ${url.href}${isRetry ? ' (reconnect)' : ''}`),
    connected: (_socket, _payload, wasRetry) => log(`connected${wasRetry ? ' (reconnected)' : ''}`),
    closed: (event) => {
      if (!stopping) log(`closed: ${describeError(event)}`);
    },
    error: (error) => {
      if (!stopping) log(`connection error: ${describeError(error)}`);
    },
  },
});

let unsubscribe: (() => void) | undefined;
const print = statsPrinter();

onInterrupt(async () => {
  stopping = true;
  unsubscribe?.();
  await client.dispose();
  log('stopped');
});

log(
  `subscribing to statsChanged${minIntervalMs ? ` (at most one update per ${minIntervalMs} ms)` : ''}`,
);
subscribe();

function subscribe(): void {
  unsubscribe = client.subscribe<ResultOf<typeof STATS_CHANGED>>(
    toRequest(STATS_CHANGED, { minIntervalMs }),
    {
      next: (result) => {
        if (result.errors?.length) {
          fail(`statsChanged: ${result.errors.map((e) => e.message).join('; ')}`);
        }
        if (result.data?.statsChanged) print(result.data.statsChanged);
      },
      // Only errors graphql-ws will not retry reach here: GraphQL errors
      // (e.g. a bad argument) and fatal close codes (4400, 4401, 4500…).
      error: (error) => {
        if (!stopping) fail(`statsChanged: ${describeError(error)}`);
      },
      complete: () => {
        if (stopping) return;
        // The server ended the subscription (it normally never does): start over.
        const delay = retryDelayMs(0);
        log(`the server completed the subscription; subscribing again in ${formatDuration(delay)}`);
        setTimeout(subscribe, delay);
      },
    },
  );
}

function webSocketUrl(value: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return usageError(USAGE, `--url: not a URL: ${value}`);
  }
  const protocols: Record<string, string> = {
    'http:': 'ws:',
    'https:': 'wss:',
    'ws:': 'ws:',
    'wss:': 'wss:',
  };
  const protocol = protocols[parsed.protocol];
  if (!protocol) return usageError(USAGE, `--url: expected http(s):// or ws(s)://, got ${value}`);
  parsed.protocol = protocol;
  return parsed;
}
