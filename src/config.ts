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
  CHANGE_DETECTION: z.enum(['notify', 'poll', 'auto']).default('auto'),
  POLL_INTERVAL_MS: positiveInt.default(1000),
  LISTENER_HEARTBEAT_MS: positiveInt.default(10_000),
  LISTENER_MAX_BACKOFF_MS: positiveInt.default(10_000),
  STATS_COALESCE_MS: nonNegativeInt.max(1000, 'must be at most 1000').default(100),
  CACHE_TTL_MS: positiveInt.default(60_000),
  CACHE_MAX_ENTRIES: positiveInt.default(5_000),
});

export type ChangeDetectionMode = 'notify' | 'poll' | 'auto';

export interface DatabaseConfig {
  /** External server; when absent an embedded PostgreSQL is started. */
  url?: string;
  poolMax: number;
  embedded: { dataDir: string; port: number };
  /** Seed the demo data set when the database is empty. */
  seedOnFirstStart: boolean;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  http: { host: string; port: number; graphiql: boolean };
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
    const shown = variable === 'DATABASE_URL' ? redactUrl(received) : received;
    throw new ConfigError(
      `${variable}: ${issue?.message ?? 'invalid value'}${shown === undefined ? '' : ` (got ${JSON.stringify(shown)})`}`,
    );
  }
  const e = parsed.data;
  const embedded = e.DATABASE_URL === undefined;
  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production' },
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
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
