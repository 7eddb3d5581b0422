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

/**
 * A setting, declared once: its variable name (the key in {@link settings}),
 * its schema (type, bounds and default), and what it means. `loadConfig`
 * parses the environment with these schemas, and docs/configuration.md is
 * generated from them (`npm run docs:config`; a test fails when it is stale).
 */
export interface Setting<S extends z.ZodType = z.ZodType> {
  group: SettingGroup;
  schema: S;
  description: string;
  /**
   * The default as the reference shows it, when it depends on other settings
   * (the schema then has none and `loadConfig` decides).
   */
  defaultText?: string;
  /** How the reference names the accepted values when the schema alone says too little. */
  typeText?: string;
  /** How a rejected value is shown in the error line; `null` never shows it. */
  shown?: ((value: string) => string | undefined) | null;
}

/** Sections of the configuration reference, in the order it lists them. */
export const settingGroups = {
  server: 'Server',
  database: 'Database',
  live: 'Live statistics and caches',
  auth: 'Authentication and writes',
  limits: 'Query limits',
  webSocket: 'WebSocket',
  work: 'Background work',
} as const;
export type SettingGroup = keyof typeof settingGroups;

/** Outside any checkout, where root can write and every user can enter. */
export const DEFAULT_EMBEDDED_RUNTIME_DIR = '/var/lib/consultator-graphql';

const EMBEDDED_OR_NOT = '`true` embedded, `false` with `DATABASE_URL`';
const UNLESS_PRODUCTION = '`true` unless `NODE_ENV=production`';

/** Every environment variable the server reads. Add a setting here, then run `npm run docs:config`. */
export const settings = {
  NODE_ENV: {
    group: 'server',
    schema: z.enum(['development', 'production', 'test']).default('development'),
    description: '`production` hides GraphiQL, introspection and field suggestions by default',
  },
  HOST: {
    group: 'server',
    schema: z.string().min(1).default('0.0.0.0'),
    description: 'interface to listen on',
  },
  PORT: {
    group: 'server',
    schema: port.default(4000),
    description: 'HTTP and WebSocket port (`0` picks a free one)',
  },
  LOG_LEVEL: {
    group: 'server',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    description: 'least severe level logged',
  },
  GRAPHIQL: {
    group: 'server',
    schema: booleanFromString.optional(),
    defaultText: UNLESS_PRODUCTION,
    description: 'serve GraphiQL on `/graphql`',
  },
  COMPILED_QUERIES: {
    group: 'server',
    schema: booleanFromString.default(true),
    description:
      'run eligible queries compiled by graphql-jit (`false`: every operation on graphql-js, slower; a way out should graphql-jit answer a query wrongly)',
  },
  DASHBOARD: {
    group: 'server',
    schema: booleanFromString.optional(),
    defaultText: EMBEDDED_OR_NOT,
    description: 'serve the live dashboard page on `/dashboard`',
  },
  WEB_CONCURRENCY: {
    group: 'server',
    schema: positiveInt.max(64, 'must be at most 64').default(1),
    description:
      'worker processes sharing the port (node:cluster), each a full instance listening to the database; `1` runs the server in this process',
  },
  SHUTDOWN_GRACE_MS: {
    group: 'server',
    schema: positiveInt.default(10_000),
    description: 'how long shutdown lets in-flight requests finish',
  },
  DATABASE_URL: {
    group: 'database',
    schema: postgresUrl.optional(),
    typeText: '`postgres://…` URL',
    shown: redactUrl,
    description: 'external PostgreSQL; unset starts the embedded one',
  },
  DATABASE_POOL_MAX: {
    group: 'database',
    schema: positiveInt.default(10),
    description: 'connections in the pool',
  },
  DATABASE_CONNECT_TIMEOUT_MS: {
    group: 'database',
    schema: positiveInt.default(10_000),
    description: 'how long a request waits for a pool connection',
  },
  DATABASE_STATEMENT_TIMEOUT_MS: {
    group: 'database',
    schema: nonNegativeInt.default(30_000),
    description: '`statement_timeout` of pooled sessions (`0`: none)',
  },
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: {
    group: 'database',
    schema: nonNegativeInt.default(60_000),
    description: '`idle_in_transaction_session_timeout` of pooled sessions (`0`: none)',
  },
  SLOW_QUERY_MS: {
    group: 'database',
    schema: nonNegativeInt.default(500),
    description: 'statements slower than this are logged at `warn` (`0`: off)',
  },
  EMBEDDED_PG_DIR: {
    group: 'database',
    schema: z.string().min(1).default('.data/postgres'),
    description: 'data folder of the embedded PostgreSQL',
  },
  EMBEDDED_PG_PORT: {
    group: 'database',
    schema: port.default(0),
    description: 'port of the embedded PostgreSQL (`0` picks a free one)',
  },
  EMBEDDED_PG_RUNTIME_DIR: {
    group: 'database',
    schema: z.string().min(1).default(DEFAULT_EMBEDDED_RUNTIME_DIR),
    description:
      'run as root only: where the PostgreSQL binaries and the data folder go when the `postgres` user cannot reach them in the checkout (a folder under a 0700 home); `EMBEDDED_PG_DIR` then links there',
  },
  SEED_ON_FIRST_START: {
    group: 'database',
    schema: booleanFromString.optional(),
    defaultText: EMBEDDED_OR_NOT,
    description: 'load the demo data set into an empty database at start',
  },
  CHANGE_DETECTION: {
    group: 'live',
    schema: z.enum(['notify', 'poll', 'auto']).default('auto'),
    description: 'how changes are seen (see [live statistics](live-stats.md))',
  },
  POLL_INTERVAL_MS: {
    group: 'live',
    schema: positiveInt.default(1000),
    description: "poll period in `poll` mode and `auto`'s fallback",
  },
  LISTENER_HEARTBEAT_MS: {
    group: 'live',
    schema: positiveInt.default(10_000),
    description: 'TCP keep-alive probe delay of the LISTEN connection',
  },
  LISTENER_MAX_BACKOFF_MS: {
    group: 'live',
    schema: positiveInt.default(10_000),
    description: "cap of the listener's reconnect backoff",
  },
  STATS_COALESCE_MS: {
    group: 'live',
    schema: nonNegativeInt.max(1000, 'must be at most 1000').default(100),
    description:
      'at most one stats recompute per this many ms: a write after a quiet period is pushed at once; a burst is folded into one recompute per window',
  },
  CACHE_TTL_MS: {
    group: 'live',
    schema: positiveInt.default(60_000),
    description: 'safety-net TTL of the cross-request caches',
  },
  CACHE_MAX_ENTRIES: {
    group: 'live',
    schema: positiveInt.default(5_000),
    description: 'entries per cache',
  },
  JWT_SECRET: {
    group: 'auth',
    schema: z.string().min(32, 'must be at least 32 characters').optional(),
    defaultText: '_(unset; embedded demo: generated)_',
    shown: null,
    description: 'HS256 secret of bearer JWTs; never logged',
  },
  JWKS_URL: {
    group: 'auth',
    schema: httpUrl.optional(),
    typeText: '`http(s)://…` URL',
    description: 'JWKS of an identity provider whose JWTs (`sub`, `role`) are accepted',
  },
  API_KEYS: {
    group: 'auth',
    schema: apiKeyList.optional(),
    typeText: '`name:role:key,…`',
    shown: null,
    description: 'static keys (role `viewer` or `admin`, keys of 16+ characters); never logged',
  },
  JWT_MAX_LIFETIME_SECONDS: {
    group: 'auth',
    schema: positiveInt.default(86_400),
    description:
      'longest lifetime of a bearer JWT (`exp` - `iat`, or `exp` - now without `iat`); longer-lived tokens, and tokens without `exp`, are refused (401); `npm run token` refuses to mint them',
  },
  ALLOW_ANONYMOUS_READS: {
    group: 'auth',
    schema: booleanFromString.optional(),
    defaultText: EMBEDDED_OR_NOT,
    description: 'queries and subscriptions without a credential',
  },
  MUTATION_RATE_LIMIT: {
    group: 'auth',
    schema: nonNegativeInt.default(120),
    description:
      'mutation attempts of one actor per window, counted per instance (`0`: no limit), refused ones included (all anonymous callers are one actor); past it `RATE_LIMITED` with `retryAfterSeconds`, audited as refused',
  },
  MUTATION_RATE_LIMIT_PER_ADDRESS: {
    group: 'auth',
    schema: nonNegativeInt.default(600),
    description:
      'mutation attempts one client address may make per window, counted per instance (`0`: no limit); refused attempts (no credential, wrong role) count too; behind a reverse proxy every client shares its address',
  },
  MUTATION_RATE_WINDOW_SECONDS: {
    group: 'auth',
    schema: positiveInt.default(60),
    description: 'the window of `MUTATION_RATE_LIMIT`',
  },
  QUERY_MAX_DEPTH: {
    group: 'limits',
    schema: positiveInt.default(12),
    description: 'deepest selection (see [operations](operations.md))',
  },
  QUERY_MAX_ALIASES: {
    group: 'limits',
    schema: nonNegativeInt.default(15),
    description: 'aliases per operation',
  },
  QUERY_MAX_TOKENS: {
    group: 'limits',
    schema: positiveInt.default(2_000),
    description: 'tokens per document',
  },
  QUERY_MAX_DIRECTIVES: {
    group: 'limits',
    schema: nonNegativeInt.default(20),
    description: 'directives per operation',
  },
  QUERY_MAX_COST: {
    group: 'limits',
    schema: positiveInt.default(20_000),
    description:
      'estimated resolved fields, lists priced by `first`/`last` (calibrated with `npm run bench`, see [operations](operations.md))',
  },
  QUERY_EXPENSIVE_COST: {
    group: 'limits',
    schema: nonNegativeInt.default(5_000),
    description:
      'from this estimated cost an operation is expensive: it needs a slot of the budget below (`0`: no budget)',
  },
  QUERY_MAX_EXPENSIVE_PER_CLIENT: {
    group: 'limits',
    schema: positiveInt.default(2),
    description:
      'expensive operations one client (actor, or address when anonymous) runs at once; past it `RATE_LIMITED`, HTTP 429, `Retry-After`',
  },
  QUERY_MAX_EXPENSIVE_PER_INSTANCE: {
    group: 'limits',
    schema: positiveInt.default(2),
    description:
      'expensive operations one instance runs at once, all clients together; past it `SERVER_BUSY`, HTTP 503, `Retry-After`',
  },
  RESPONSE_MAX_BYTES: {
    group: 'limits',
    schema: nonNegativeInt.default(2_097_152),
    description:
      'a query or mutation result larger than this (JSON, estimated) is replaced by `RESPONSE_TOO_LARGE` (`0`: no cap)',
  },
  INTROSPECTION: {
    group: 'limits',
    schema: booleanFromString.optional(),
    defaultText: UNLESS_PRODUCTION,
    description: 'allow `__schema`/`__type`',
  },
  FIELD_SUGGESTIONS: {
    group: 'limits',
    schema: booleanFromString.optional(),
    defaultText: UNLESS_PRODUCTION,
    description: 'keep "Did you mean …?" in validation errors',
  },
  REQUEST_BODY_LIMIT_BYTES: {
    group: 'limits',
    schema: positiveInt.default(1_048_576),
    description: 'larger bodies get 413',
  },
  BATCHING_LIMIT: {
    group: 'limits',
    schema: nonNegativeInt.default(0),
    description: 'operations per batched HTTP request (`0`: batching off)',
  },
  CSRF_PREVENTION: {
    group: 'limits',
    schema: booleanFromString.default(true),
    description:
      'require `x-graphql-csrf` on form and `text/plain` posts (what browsers send cross-site without preflight); GET and JSON need nothing',
  },
  WS_CONNECTION_INIT_TIMEOUT_MS: {
    group: 'webSocket',
    schema: positiveInt.default(3_000),
    description: 'time a socket has to send `connection_init`',
  },
  WS_KEEPALIVE_MS: {
    group: 'webSocket',
    schema: nonNegativeInt.default(12_000),
    description: 'ping period; no pong within it terminates the socket (`0`: off)',
  },
  WS_MAX_PAYLOAD_BYTES: {
    group: 'webSocket',
    schema: positiveInt.default(1_048_576),
    description: 'largest WebSocket frame accepted',
  },
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: {
    group: 'webSocket',
    schema: positiveInt.default(50),
    description: 'operations running at once on one socket',
  },
  WS_MAX_SOCKETS_PER_ADDRESS: {
    group: 'webSocket',
    schema: positiveInt.default(20_000),
    description:
      'open sockets per client address (the benchmark opens 10,000 from one address; lower it for a server facing clients directly)',
  },
  WS_MAX_BUFFERED_BYTES: {
    group: 'webSocket',
    schema: positiveInt.default(4_194_304),
    description: 'unsent data a socket may hold before it is closed (1013)',
  },
  METRICS_TOKEN: {
    group: 'server',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    defaultText: '_(unset)_',
    shown: null,
    description:
      'when set, `/metrics` answers only `Authorization: Bearer <token>` (16+ characters; never logged); others get 401',
  },
  METRICS_PUBLIC: {
    group: 'server',
    schema: booleanFromString.optional(),
    defaultText: UNLESS_PRODUCTION,
    description: 'without `METRICS_TOKEN`: whether `/metrics` answers anyone (else 404)',
  },
  METRICS_MAX_OPERATION_NAMES: {
    group: 'server',
    schema: positiveInt.default(100),
    description:
      'distinct operation names kept as metric labels (names cut to 64 characters); later new names count as `other`',
  },
  TASK_RETENTION_HOURS: {
    group: 'work',
    schema: positiveInt.default(24),
    description: 'finished background tasks are deleted after this long',
  },
  REPORT_CACHE_TTL_DAYS: {
    group: 'work',
    schema: positiveInt.default(30),
    description: 'cached reports are recomputed after this long even if nothing changed',
  },
} satisfies Record<string, Setting>;

type SettingName = keyof typeof settings;

const envSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([name, setting]) => [name, setting.schema])) as {
    [K in SettingName]: (typeof settings)[K]['schema'];
  },
);

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
  embedded: {
    dataDir: string;
    port: number;
    /** Run as root: where what the `postgres` user cannot reach in the checkout goes. */
    runtimeDir: string;
  };
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
  /** Cost from which an operation needs a slot of the expensive-work budget; 0: no budget. */
  expensiveCost: number;
  maxExpensivePerClient: number;
  maxExpensivePerInstance: number;
  /** Largest query or mutation result (estimated JSON bytes); 0: no cap. */
  responseMaxBytes: number;
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

/** Who may read `/metrics`, and how many label values clients can create there. */
export interface MetricsConfig {
  /** When set, `/metrics` answers only `Authorization: Bearer <token>`. */
  token?: Secret;
  /** Without a token: whether `/metrics` answers anyone (otherwise 404). */
  public: boolean;
  /** Distinct operation names kept as labels; the rest count as `other`. */
  maxOperationNames: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  /** `dashboard`: serve the live dashboard page at `/dashboard`. */
  http: {
    host: string;
    port: number;
    graphiql: boolean;
    dashboard: boolean;
    /** Eligible queries run through graphql-jit. */
    compiledQueries: boolean;
  };
  /** Worker processes sharing the port; 1 serves from the main process. */
  webConcurrency: number;
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
  metrics: MetricsConfig;
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
  /** Longest accepted JWT lifetime; tokens must carry `exp`. */
  jwtMaxLifetimeSeconds: number;
  /** Reads (queries, subscriptions) without a token. */
  allowAnonymousReads: boolean;
  /** Mutations one actor may attempt per window; 0 turns the limit off. */
  mutationRateLimit: number;
  /** Mutation attempts one client address may make per window; 0 turns the limit off. */
  mutationRateLimitPerAddress: number;
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
    const setting: Setting | undefined = (settings as Record<string, Setting>)[variable];
    const shown =
      received === undefined || setting?.shown === null
        ? undefined
        : (setting?.shown ?? String)(received);
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
      compiledQueries: e.COMPILED_QUERIES,
    },
    webConcurrency: e.WEB_CONCURRENCY,
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      slowQueryMs: e.SLOW_QUERY_MS,
      embedded: {
        dataDir: e.EMBEDDED_PG_DIR,
        port: e.EMBEDDED_PG_PORT,
        runtimeDir: e.EMBEDDED_PG_RUNTIME_DIR,
      },
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
      jwtMaxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS,
      // Open reads suit the local demo only; an API in front of real data asks for a token.
      allowAnonymousReads: e.ALLOW_ANONYMOUS_READS ?? embedded,
      mutationRateLimit: e.MUTATION_RATE_LIMIT,
      mutationRateLimitPerAddress: e.MUTATION_RATE_LIMIT_PER_ADDRESS,
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
      expensiveCost: e.QUERY_EXPENSIVE_COST,
      maxExpensivePerClient: e.QUERY_MAX_EXPENSIVE_PER_CLIENT,
      maxExpensivePerInstance: e.QUERY_MAX_EXPENSIVE_PER_INSTANCE,
      responseMaxBytes: e.RESPONSE_MAX_BYTES,
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
    metrics: {
      token: e.METRICS_TOKEN === undefined ? undefined : new Secret(e.METRICS_TOKEN),
      // Operational detail (operation names, pool and socket counts) is not for the public internet.
      public: e.METRICS_PUBLIC ?? e.NODE_ENV !== 'production',
      maxOperationNames: e.METRICS_MAX_OPERATION_NAMES,
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
