/**
 * The few helpers the example scripts share: flag parsing with a one-line
 * usage, one-line fatal errors, the optional bearer token and Ctrl-C.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { graphql, type ResultOf } from './graphql.js';

export const DEFAULT_URL = 'http://localhost:4000/graphql';

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;
type FlagsConfig<O extends Options> = {
  options: O & typeof HELP;
  strict: true;
  allowPositionals: false;
};
export type Flags<O extends Options> = ReturnType<typeof parseArgs<FlagsConfig<O>>>['values'];

/**
 * Parses `process.argv` with `node:util` parseArgs (strict, no positionals).
 * Bad flags print the reason and the usage line, then exit 2; `--help` prints
 * the usage line and exits 0.
 */
export function parseFlags<const O extends Options>(usage: string, options: O): Flags<O> {
  const config: FlagsConfig<O> = {
    options: { ...options, ...HELP },
    strict: true,
    allowPositionals: false,
  };
  try {
    const { values } = parseArgs(config);
    if ((values as { help?: boolean }).help) {
      console.log(`usage: ${usage}`);
      process.exit(0);
    }
    return values;
  } catch (error) {
    return usageError(
      usage,
      (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '',
    );
  }
}

export function usageError(usage: string, reason: string): never {
  console.error(`error: ${reason}`);
  console.error(`usage: ${usage}`);
  process.exit(2);
}

/** Prints one line on stderr and exits 1. */
export function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

/** A GraphQL endpoint URL given with `--url`: http(s) only. */
export function parseHttpUrl(usage: string, value: string | undefined): URL {
  let url: URL;
  try {
    url = new URL(value ?? DEFAULT_URL);
  } catch {
    return usageError(usage, `--url: not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return usageError(usage, `--url: expected http:// or https://, got ${url.protocol}//`);
  }
  return url;
}

/** A whole number flag within bounds. */
export function parseIntFlag(
  usage: string,
  name: string,
  value: string | undefined,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    return usageError(
      usage,
      `--${name}: expected a whole number from ${min} to ${max}, got "${value}"`,
    );
  }
  return n;
}

/**
 * The only environment variable the examples read: an optional bearer token
 * for when the API gets authentication.
 */
export function bearerToken(): string | undefined {
  const token = process.env.API_TOKEN?.trim();
  return token ? token : undefined;
}

export function authHeaders(): Record<string, string> {
  const token = bearerToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** One line describing any thrown value, including the usual Node network causes. */
export function describeError(error: unknown): string {
  if (Array.isArray(error)) {
    // graphql-ws and graphql-sse report GraphQL errors as an array.
    return error.map(describeError).join('; ');
  }
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code =
      (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
    if (cause instanceof AggregateError && cause.errors.length > 0) {
      return `${error.message}: ${describeError(cause.errors[0])}`;
    }
    if (cause instanceof Error && cause.message && cause.message !== error.message) {
      return `${error.message}: ${cause.message}`;
    }
    return typeof code === 'string' && !error.message.includes(code)
      ? `${error.message} (${code})`
      : error.message;
  }
  if (error && typeof error === 'object') {
    const { message, code, reason } = error as {
      message?: unknown;
      code?: unknown;
      reason?: unknown;
    };
    if (typeof message === 'string') return message;
    // A WebSocket close event.
    if (typeof code === 'number') return `connection closed (${code}${reason ? ` ${reason}` : ''})`;
  }
  return String(error);
}

/**
 * Calls `stop` on the first Ctrl-C (or SIGTERM); the script is expected to
 * finish and exit 0. A second Ctrl-C exits at once, still with 0.
 */
export function onInterrupt(stop: () => void | Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(0);
    stopping = true;
    Promise.resolve()
      .then(stop)
      .then(
        () => process.exit(0),
        (error: unknown) => fail(describeError(error)),
      );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** `12:34:56.789` in local time. */
export function clockTime(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${((ms - minutes * 60_000) / 1000).toFixed(1)} s`;
}

/** The dashboard fields both subscription examples ask for. */
export const STATS_CHANGED = graphql(`
  subscription StatsChanged($minIntervalMs: Int) {
    statsChanged(minIntervalMs: $minIntervalMs) {
      version
      computedAt
      consultants {
        total
        available
        onMission
        unavailable
        utilizationRate
      }
      practices {
        name
        consultants
        available
        onMission
        averageDailyRate
      }
      missions {
        active
        ended
        total
        averageDailyRate
      }
      topSkills(first: 5) {
        name
        consultants
      }
    }
  }
`);

/** One push of {@link STATS_CHANGED}, typed from the schema. */
export type DashboardStats = NonNullable<ResultOf<typeof STATS_CHANGED>['statsChanged']>;

/**
 * Returns a function that prints one line per new version of the stats:
 * the same version received again (the current snapshot that a reconnect
 * sends first) prints nothing. The first line is the snapshot current when
 * the subscription started, so its "age" may be long: only later lines
 * measure the push latency (now − computedAt, on the client's clock).
 */
export function statsPrinter(): (stats: DashboardStats) => void {
  let last: bigint | undefined;
  return ({ version: versionText, computedAt: computedAtText, consultants, missions }) => {
    const receivedAt = Date.now();
    // Every field is nullable in the schema (a failing resolver nulls its own
    // field only); without a version there is nothing to compare or print.
    if (versionText == null || computedAtText == null) return;
    const version = BigInt(versionText);
    if (last !== undefined && version === last) return;
    const initial = last === undefined;
    last = version;
    const computedAt = new Date(computedAtText);
    const latency = receivedAt - computedAt.getTime();
    const utilization = consultants?.utilizationRate;
    console.log(
      `v${versionText}  computedAt ${clockTime(computedAt)}` +
        `  consultants ${consultants?.total ?? '?'}` +
        `  utilization ${utilization == null ? '?' : (utilization * 100).toFixed(1)}%` +
        `  active missions ${missions?.active ?? '?'}` +
        (initial
          ? `  age ${formatDuration(latency)} (snapshot current at subscribe time)`
          : `  latency ${formatDuration(latency)}`),
    );
  };
}

/** Capped exponential backoff with jitter: 0.5 s, 1 s, 2 s, 4 s, then 5 s. */
export function retryDelayMs(retries: number): number {
  return Math.min(500 * 2 ** retries, 5000) + Math.floor(Math.random() * 250);
}
