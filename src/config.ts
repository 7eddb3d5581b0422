import { z } from 'zod';

/**
 * The only reader of `process.env`. Everything else receives a {@link Config}
 * object, which is what lets tests build several apps side by side with
 * different settings in one process.
 */

const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const port = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .min(0, 'must be between 0 and 65535')
  .max(65535, 'must be between 0 and 65535');

const positiveInt = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .positive('must be positive');

const nonNegativeInt = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .min(0, 'must be zero or more');

const postgresUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== ''
      );
    } catch {
      return false;
    }
  },
  { message: 'must be a postgres:// or postgresql:// URL with a host' },
);

const API_KEY_ROLES = ['viewer', 'admin'] as const;

/** `name:role:key` entries, comma-separated; the key itself is never echoed. */
const apiKeyList = z.string().transform((value, ctx) => {
  const keys: ApiKeyConfig[] = [];
  for (const [index, entry] of value.split(',').entries()) {
    const [name, role, key, ...rest] = entry.trim().split(':');
    const problem =
      !name || !role || !key || rest.length > 0
        ? 'must be a comma-separated list of name:role:key'
        : !(API_KEY_ROLES as readonly string[]).includes(role)
          ? `entry ${index + 1} has role "${role}" (expected viewer or admin)`
          : key.length < 16
            ? `entry ${index + 1} ("${name}") has a key shorter than 16 characters`
            : undefined;
    if (problem || !name || !key) {
      ctx.addIssue({ code: 'custom', message: problem ?? 'invalid entry' });
      return z.NEVER;
    }
    keys.push({ name, role: role as ApiKeyConfig['role'], key: new Secret(key) });
  }
  return keys;
});

const httpUrl = z.string().refine(
  (value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === 'https:' || protocol === 'http:';
    } catch {
      return false;
    }
  },
  { message: 'must be an http:// or https:// URL' },
);

/** Variables whose value must never appear in an error line. */
const SECRET_VARIABLES = new Set(['JWT_SECRET', 'API_KEYS']);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_MAX: positiveInt.default(10),
  EMBEDDED_PG_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_PG_PORT: port.default(0),
  SEED_ON_FIRST_START: booleanFromString.optional(),
  GRAPHIQL: booleanFromString.optional(),
  DASHBOARD: booleanFromString.optional(),
  CHANGE_DETECTION: z.enum(['notify', 'poll', 'auto']).default('auto'),
  POLL_INTERVAL_MS: positiveInt.default(1000),
  LISTENER_HEARTBEAT_MS: positiveInt.default(10_000),
  LISTENER_MAX_BACKOFF_MS: positiveInt.default(10_000),
  STATS_COALESCE_MS: nonNegativeInt.max(1000, 'must be at most 1000').default(100),
  CACHE_TTL_MS: positiveInt.default(60_000),
  CACHE_MAX_ENTRIES: positiveInt.default(5_000),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWKS_URL: httpUrl.optional(),
  API_KEYS: apiKeyList.optional(),
  ALLOW_ANONYMOUS_READS: booleanFromString.optional(),
  MUTATION_RATE_LIMIT: nonNegativeInt.default(120),
  MUTATION_RATE_WINDOW_SECONDS: positiveInt.default(60),
  TASK_RETENTION_HOURS: positiveInt.default(24),
  REPORT_CACHE_TTL_DAYS: positiveInt.default(30),
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt.default(10_000),
  DATABASE_STATEMENT_TIMEOUT_MS: nonNegativeInt.default(30_000),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: nonNegativeInt.default(60_000),
  SLOW_QUERY_MS: nonNegativeInt.default(500),
  SHUTDOWN_GRACE_MS: positiveInt.default(10_000),
  QUERY_MAX_DEPTH: positiveInt.default(12),
  QUERY_MAX_ALIASES: nonNegativeInt.default(15),
  QUERY_MAX_TOKENS: positiveInt.default(2_000),
  QUERY_MAX_DIRECTIVES: nonNegativeInt.default(20),
  QUERY_MAX_COST: positiveInt.default(100_000),
  INTROSPECTION: booleanFromString.optional(),
  FIELD_SUGGESTIONS: booleanFromString.optional(),
  REQUEST_BODY_LIMIT_BYTES: positiveInt.default(1_048_576),
  BATCHING_LIMIT: nonNegativeInt.default(0),
  CSRF_PREVENTION: booleanFromString.default(true),
  WS_CONNECTION_INIT_TIMEOUT_MS: positiveInt.default(3_000),
  WS_KEEPALIVE_MS: nonNegativeInt.default(12_000),
  WS_MAX_PAYLOAD_BYTES: positiveInt.default(1_048_576),
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: positiveInt.default(50),
  WS_MAX_SOCKETS_PER_ADDRESS: positiveInt.default(20_000),
  WS_MAX_BUFFERED_BYTES: positiveInt.default(4_194_304),
});

export type ChangeDetectionMode = 'notify' | 'poll' | 'auto';

export interface DatabaseConfig {
  /** External server; when absent an embedded PostgreSQL is started. */
  url?: string;
  poolMax: number;
  connectTimeoutMs: number;
  /** Sent as the session's `statement_timeout`; 0 means none. */
  statementTimeoutMs: number;
  /** Sent as `idle_in_transaction_session_timeout`; 0 means none. */
  idleInTransactionTimeoutMs: number;
  /** Statements slower than this are logged at warn; 0 disables. */
  slowQueryMs: number;
  embedded: { dataDir: string; port: number };
  /** Seed the demo data set when the database is empty. */
  seedOnFirstStart: boolean;
}

/** Rejections that happen before any resolver runs (see src/server/plugins/use-query-limits.ts). */
export interface LimitsConfig {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Estimated resolved fields, list sizes taken from `first`/`last` (see query-cost.ts). */
  maxCost: number;
  introspection: boolean;
  fieldSuggestions: boolean;
  requestBodyLimitBytes: number;
  /** Operations per batched HTTP request; 0 turns batching off. */
  batchingLimit: number;
  csrfPrevention: boolean;
}

export interface WebSocketConfig {
  connectionInitTimeoutMs: number;
  /** Ping period; a socket that does not pong within it is terminated. 0 disables. */
  keepAliveMs: number;
  maxPayloadBytes: number;
  maxSubscriptionsPerSocket: number;
  maxSocketsPerAddress: number;
  /** A socket whose unsent backlog exceeds this is closed (1013). */
  maxBufferedBytes: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  /** `dashboard`: serve the live dashboard page at `/dashboard`. */
  http: { host: string; port: number; graphiql: boolean; dashboard: boolean };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  database: DatabaseConfig;
  changes: {
    mode: ChangeDetectionMode;
    pollIntervalMs: number;
    heartbeatMs: number;
    maxBackoffMs: number;
  };
  /** At most one stats recompute per `coalesceMs` (see the stats publisher). */
  stats: { coalesceMs: number };
  cache: { ttlMs: number; maxEntries: number };
  auth: AuthConfig;
  /** Finished background tasks are deleted after this long. */
  tasks: { retentionMs: number };
  /** Cached reports are recomputed after this long even if nothing changed. */
  reports: { cacheTtlMs: number };
  limits: LimitsConfig;
  webSocket: WebSocketConfig;
  /** How long shutdown waits for in-flight requests before cutting them. */
  shutdownGraceMs: number;
}

/**
 * A value that must never be logged or printed: `String()`, JSON and
 * `util.inspect` (what pino and console use) all show it redacted.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

export interface ApiKeyConfig {
  /** Recorded as the actor of what the key does. */
  name: string;
  role: 'viewer' | 'admin';
  key: Secret;
}

export interface AuthConfig {
  /** HS256 secret of bearer JWTs. */
  jwtSecret?: Secret;
  /** Where to fetch the keys of bearer JWTs signed elsewhere (RS256, ES256, ...). */
  jwksUrl?: string;
  apiKeys: ApiKeyConfig[];
  /** Reads (queries, subscriptions) without a token. */
  allowAnonymousReads: boolean;
  /** Mutations one actor may attempt per window; 0 turns the limit off. */
  mutationRateLimit: number;
  mutationRateWindowSeconds: number;
}

/** Thrown for a bad environment; its message is the one line the CLI prints. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the environment. A wrong value throws a
 * {@link ConfigError} whose message names the variable, e.g.
 * `PORT: must be between 0 and 65535 (got "70000")`.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings are how shells and compose files say "unset".
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const received = cleaned[variable];
    const shown = SECRET_VARIABLES.has(variable)
      ? undefined
      : variable === 'DATABASE_URL'
        ? redactUrl(received)
        : received;
    throw new ConfigError(
      `${variable}: ${issue?.message ?? 'invalid value'}${shown === undefined ? '' : ` (got ${JSON.stringify(shown)})`}`,
    );
  }
  const e = parsed.data;
  const embedded = e.DATABASE_URL === undefined;
  return {
    env: e.NODE_ENV,
    http: {
      host: e.HOST,
      port: e.PORT,
      graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production',
      // On for the zero-setup demo; an API in front of someone's database opts in.
      dashboard: e.DASHBOARD ?? embedded,
    },
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      slowQueryMs: e.SLOW_QUERY_MS,
      embedded: { dataDir: e.EMBEDDED_PG_DIR, port: e.EMBEDDED_PG_PORT },
      seedOnFirstStart: e.SEED_ON_FIRST_START ?? embedded,
    },
    changes: {
      mode: e.CHANGE_DETECTION,
      pollIntervalMs: e.POLL_INTERVAL_MS,
      heartbeatMs: e.LISTENER_HEARTBEAT_MS,
      maxBackoffMs: e.LISTENER_MAX_BACKOFF_MS,
    },
    stats: { coalesceMs: e.STATS_COALESCE_MS },
    cache: { ttlMs: e.CACHE_TTL_MS, maxEntries: e.CACHE_MAX_ENTRIES },
    auth: {
      jwtSecret: e.JWT_SECRET === undefined ? undefined : new Secret(e.JWT_SECRET),
      jwksUrl: e.JWKS_URL,
      apiKeys: e.API_KEYS ?? [],
      // Open reads suit the local demo only; an API in front of real data asks for a token.
      allowAnonymousReads: e.ALLOW_ANONYMOUS_READS ?? embedded,
      mutationRateLimit: e.MUTATION_RATE_LIMIT,
      mutationRateWindowSeconds: e.MUTATION_RATE_WINDOW_SECONDS,
    },
    tasks: { retentionMs: e.TASK_RETENTION_HOURS * 3_600_000 },
    reports: { cacheTtlMs: e.REPORT_CACHE_TTL_DAYS * 86_400_000 },
    limits: {
      maxDepth: e.QUERY_MAX_DEPTH,
      maxAliases: e.QUERY_MAX_ALIASES,
      maxTokens: e.QUERY_MAX_TOKENS,
      maxDirectives: e.QUERY_MAX_DIRECTIVES,
      maxCost: e.QUERY_MAX_COST,
      introspection: e.INTROSPECTION ?? e.NODE_ENV !== 'production',
      fieldSuggestions: e.FIELD_SUGGESTIONS ?? e.NODE_ENV !== 'production',
      requestBodyLimitBytes: e.REQUEST_BODY_LIMIT_BYTES,
      batchingLimit: e.BATCHING_LIMIT,
      csrfPrevention: e.CSRF_PREVENTION,
    },
    webSocket: {
      connectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
      keepAliveMs: e.WS_KEEPALIVE_MS,
      maxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      maxSubscriptionsPerSocket: e.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxSocketsPerAddress: e.WS_MAX_SOCKETS_PER_ADDRESS,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
  };
}

/** Keeps passwords out of error lines and logs. */
export function redactUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparseable>';
  }
}
