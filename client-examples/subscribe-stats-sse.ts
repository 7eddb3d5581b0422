/**
 * Subscribes to `statsChanged` over Server-Sent Events and prints one line
 * per new version of the dashboard statistics, with the latency since the
 * server computed it. Reconnects forever, logging every connection state
 * change; Ctrl-C stops it.
 *
 *   npx tsx client-examples/subscribe-stats-sse.ts [--url URL] [--min-interval-ms N]
 *
 * The API (GraphQL Yoga) speaks the GraphQL over SSE protocol's "distinct
 * connections mode" on its GraphQL URL: every subscription is one POST with
 * `Accept: text/event-stream` whose response streams `next` events and ends
 * with a `complete` event. The `graphql-sse` client speaks the same mode
 * (its default, `singleConnection: false`).
 */
import { createClient } from 'graphql-sse';
import { type ResultOf, toRequest } from './graphql.js';
import {
  authHeaders,
  clockTime,
  describeError,
  fail,
  formatDuration,
  onInterrupt,
  parseFlags,
  parseHttpUrl,
  parseIntFlag,
  retryDelayMs,
  STATS_CHANGED,
  statsPrinter,
} from './shared.js';

const USAGE =
  'npx tsx client-examples/subscribe-stats-sse.ts [--url URL] [--min-interval-ms N (0 to 3600000)]';

const flags = parseFlags(USAGE, {
  url: { type: 'string' },
  'min-interval-ms': { type: 'string' },
});
const url = parseHttpUrl(USAGE, flags.url);
const minIntervalMs = parseIntFlag(USAGE, 'min-interval-ms', flags['min-interval-ms'], {
  min: 0,
  max: 3_600_000,
  fallback: 0,
});

const log = (message: string) => console.log(`[${clockTime(new Date())}] ${message}`);

let stopping = false;
/** Why the last connection attempt failed: graphql-sse retries without saying. */
let lastFailure: string | undefined;

const client = createClient({
  url: url.href,
  headers: authHeaders,
  fetchFn: async (input: string | URL | Request, init?: RequestInit) => {
    try {
      const response = await fetch(input, init);
      if (!response.ok) lastFailure = `HTTP ${response.status} ${response.statusText}`;
      return response;
    } catch (error) {
      lastFailure = describeError(error);
      throw error;
    }
  },
  // Network errors (refused connection, non-2xx answer, stream cut short)
  // are retried, forever; anything else (a malformed stream) is fatal.
  retryAttempts: Number.POSITIVE_INFINITY,
  retry: async (retries) => {
    // graphql-sse has no "closed" event: a retry is the sign the stream broke.
    const delay = retryDelayMs(retries);
    const reason = lastFailure ?? 'the stream was cut';
    lastFailure = undefined;
    log(`closed: ${reason}; retrying in ${formatDuration(delay)} (attempt ${retries + 1})`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  },
  on: {
    connecting: (reconnecting) =>
      log(`connecting to ${url.href}${reconnecting ? ' (reconnect)' : ''}`),
    connected: (reconnected) => log(`connected${reconnected ? ' (reconnected)' : ''}`),
  },
});

let unsubscribe: (() => void) | undefined;
const print = statsPrinter();

onInterrupt(() => {
  stopping = true;
  unsubscribe?.();
  client.dispose();
  log('closed; stopped');
});

log(
  `subscribing to statsChanged over SSE${minIntervalMs ? ` (at most one update per ${minIntervalMs} ms)` : ''}`,
);
subscribe();

function subscribe(): void {
  unsubscribe = client.subscribe<ResultOf<typeof STATS_CHANGED>>(
    toRequest(STATS_CHANGED, { minIntervalMs }),
    {
      next: (result) => {
        // Validation and argument errors arrive as a `next` event with errors.
        if (result.errors?.length) {
          fail(`statsChanged: ${result.errors.map((e) => e.message).join('; ')}`);
        }
        if (result.data?.statsChanged) print(result.data.statsChanged);
      },
      error: (error) => {
        if (!stopping) fail(`statsChanged: ${describeError(error)}`);
      },
      complete: () => {
        if (stopping) return;
        // The server ended the stream with a `complete` event (e.g. it is
        // shutting down): that is not a network error, so graphql-sse does
        // not retry it. Subscribe again.
        const delay = retryDelayMs(0);
        log(`closed by the server; subscribing again in ${formatDuration(delay)}`);
        setTimeout(subscribe, delay);
      },
    },
  );
}
