import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { repositoryRoot, runEntryPointToExit } from './support/entry-point.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it.each([
    ['PORT', '70000'],
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'not-a-url'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'postgres://'],
    ['CHANGE_DETECTION', 'sometimes'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_POOL_MAX', '0'],
    ['STATS_COALESCE_MS', '5000'],
    ['GRAPHIQL', 'maybe'],
    ['DASHBOARD', 'sometimes'],
    ['COMPILED_QUERIES', 'fast'],
  ])('rejects %s=%s with a ConfigError naming the variable', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.message.startsWith(`${variable}: `), error.message).toBe(true);
    // One line, printable as is by the CLI.
    expect(error.message).not.toContain('\n');
  });

  it('says what is wrong and what it got', () => {
    expect(configError({ PORT: '70000' }).message).toBe(
      'PORT: must be between 0 and 65535 (got "70000")',
    );
    expect(configError({ CHANGE_DETECTION: 'sometimes' }).message).toMatch(
      /^CHANGE_DETECTION: .*notify.*poll.*auto.*\(got "sometimes"\)$/,
    );
  });

  it('never echoes a database password', () => {
    const error = configError({ DATABASE_URL: 'mysql://admin:hunter2@db.example.com/app' });
    expect(error.message).toMatch(/^DATABASE_URL: /);
    expect(error.message).not.toContain('hunter2');
  });

  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      env: 'development',
      http: { host: '0.0.0.0', port: 4000, graphiql: true, dashboard: true, compiledQueries: true },
      logLevel: 'info',
      database: {
        url: undefined,
        poolMax: 10,
        embedded: { dataDir: '.data/postgres', port: 0 },
        seedOnFirstStart: true,
      },
      changes: { mode: 'auto', pollIntervalMs: 1000, heartbeatMs: 10_000, maxBackoffMs: 10_000 },
      stats: { coalesceMs: 100 },
      cache: { ttlMs: 60_000, maxEntries: 5_000 },
    });
  });

  it('seeds only the embedded database by default, and hides GraphiQL in production', () => {
    const external = loadConfig({ DATABASE_URL: 'postgres://u@db.example.com:5433/app' });
    expect(external.database).toMatchObject({
      url: 'postgres://u@db.example.com:5433/app',
      seedOnFirstStart: false,
    });
    expect(loadConfig({ NODE_ENV: 'production' }).http.graphiql).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHIQL: 'true' }).http.graphiql).toBe(true);
  });

  it('serves the dashboard for the embedded demo only, unless told otherwise', () => {
    const external = 'postgres://u@db.example.com:5433/app';
    expect(loadConfig({}).http.dashboard).toBe(true);
    expect(loadConfig({ DATABASE_URL: external }).http.dashboard).toBe(false);
    expect(loadConfig({ DATABASE_URL: external, DASHBOARD: 'true' }).http.dashboard).toBe(true);
    expect(loadConfig({ COMPILED_QUERIES: 'false' }).http.compiledQueries).toBe(false);
    expect(loadConfig({ DASHBOARD: 'false' }).http.dashboard).toBe(false);
  });

  it('reads auth settings, never echoing a secret in an error', () => {
    const external = 'postgres://u@db.example.com:5433/app';
    expect(loadConfig({}).auth.allowAnonymousReads).toBe(true);
    expect(loadConfig({ DATABASE_URL: external }).auth.allowAnonymousReads).toBe(false);
    const opened = loadConfig({ DATABASE_URL: external, ALLOW_ANONYMOUS_READS: 'true' });
    expect(opened.auth.allowAnonymousReads).toBe(true);
    const config = loadConfig({
      JWT_SECRET: 's'.repeat(40),
      API_KEYS: 'ci:admin:abcdefghijklmnop1234, board:viewer:qrstuvwxyz0123456789',
      JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
    });
    expect(config.auth.apiKeys.map(({ name, role }) => ({ name, role }))).toEqual([
      { name: 'ci', role: 'admin' },
      { name: 'board', role: 'viewer' },
    ]);
    expect(config.auth.jwtSecret?.reveal()).toBe('s'.repeat(40));
    expect(JSON.stringify(config)).not.toMatch(/sssss|abcdefghijklmnop|qrstuvwxyz/);
    expect(config.tasks.retentionMs).toBe(24 * 3_600_000);
    expect(config.reports.cacheTtlMs).toBe(30 * 86_400_000);
    expect(config.auth).toMatchObject({ mutationRateLimit: 120, mutationRateWindowSeconds: 60 });
    expect(loadConfig({ MUTATION_RATE_LIMIT: '0' }).auth.mutationRateLimit).toBe(0);

    for (const [variable, value] of [
      ['JWT_SECRET', 'too-short-secret'],
      ['API_KEYS', 'ci:root:abcdefghijklmnop1234'],
      ['API_KEYS', 'ci:admin:short-key'],
      ['API_KEYS', 'no-colons-here-abcdefghijklmnop'],
      ['JWKS_URL', 'ftp://id.example.com/jwks'],
      ['ALLOW_ANONYMOUS_READS', 'perhaps'],
      ['TASK_RETENTION_HOURS', '0'],
      ['REPORT_CACHE_TTL_DAYS', 'forever'],
      ['MUTATION_RATE_LIMIT', '-1'],
      ['MUTATION_RATE_WINDOW_SECONDS', '0'],
    ] as const) {
      const message = configError({ [variable]: value }).message;
      expect(message.startsWith(`${variable}: `), message).toBe(true);
      if (variable === 'JWT_SECRET' || variable === 'API_KEYS') {
        expect(message).not.toContain(value.split(':').at(-1));
      }
    }
  });

  it('reads the limits, WebSocket, database-timeout and shutdown settings, production-safe by default', () => {
    const config = loadConfig({});
    expect(config.limits).toEqual({
      maxDepth: 12,
      maxAliases: 15,
      maxTokens: 2_000,
      maxDirectives: 20,
      maxCost: 20_000,
      expensiveCost: 5_000,
      maxExpensivePerClient: 2,
      maxExpensivePerInstance: 2,
      responseMaxBytes: 2_097_152,
      introspection: true,
      fieldSuggestions: true,
      requestBodyLimitBytes: 1_048_576,
      batchingLimit: 0,
      csrfPrevention: true,
    });
    expect(config.webSocket).toEqual({
      connectionInitTimeoutMs: 3_000,
      keepAliveMs: 12_000,
      maxPayloadBytes: 1_048_576,
      maxSubscriptionsPerSocket: 50,
      maxSocketsPerAddress: 20_000,
      maxBufferedBytes: 4_194_304,
    });
    expect(config.database).toMatchObject({
      connectTimeoutMs: 10_000,
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 60_000,
      slowQueryMs: 500,
    });
    expect(config.shutdownGraceMs).toBe(10_000);
    const production = loadConfig({ NODE_ENV: 'production' }).limits;
    expect(production).toMatchObject({ introspection: false, fieldSuggestions: false });
    expect(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }).limits.introspection).toBe(
      true,
    );
    expect(loadConfig({ QUERY_MAX_COST: '500', BATCHING_LIMIT: '5' }).limits).toMatchObject({
      maxCost: 500,
      batchingLimit: 5,
    });

    for (const [variable, value] of [
      ['QUERY_MAX_DEPTH', '0'],
      ['QUERY_MAX_COST', 'lots'],
      ['QUERY_MAX_ALIASES', '-1'],
      ['INTROSPECTION', 'sometimes'],
      ['CSRF_PREVENTION', 'maybe'],
      ['REQUEST_BODY_LIMIT_BYTES', '1.5'],
      ['WS_CONNECTION_INIT_TIMEOUT_MS', '0'],
      ['WS_MAX_SOCKETS_PER_ADDRESS', 'many'],
      ['DATABASE_STATEMENT_TIMEOUT_MS', '-5'],
      ['SLOW_QUERY_MS', 'slow'],
      ['SHUTDOWN_GRACE_MS', '0'],
    ] as const) {
      const error = configError({ [variable]: value });
      expect(error.message.startsWith(`${variable}: `), error.message).toBe(true);
      expect(error.message).not.toContain('\n');
    }
  });

  it('reads numbers and treats empty strings as unset', () => {
    const config = loadConfig({
      PORT: '8080',
      CHANGE_DETECTION: 'poll',
      LOG_LEVEL: '',
      DATABASE_URL: '',
    });
    expect(config.http.port).toBe(8080);
    expect(config.changes.mode).toBe('poll');
    expect(config.logLevel).toBe('info');
    expect(config.database.url).toBeUndefined();
  });

  it('does not read process.env when given an env object', () => {
    const previous = process.env.PORT;
    process.env.PORT = 'abc';
    try {
      expect(loadConfig({ PORT: '1234' }).http.port).toBe(1234);
    } finally {
      if (previous === undefined) delete process.env.PORT;
      else process.env.PORT = previous;
    }
  });
});

describe('the entry point', () => {
  it('exits with code 1 and one line naming the variable on a bad environment', async () => {
    const { code, stdout, stderr } = await runEntryPointToExit({
      // Only what node needs: nothing of the test run's own environment leaks in.
      env: { HOME: process.env.HOME ?? repositoryRoot, PORT: 'abc' },
      timeoutMs: 20_000,
    });
    const lines = stderr.split('\n').filter((line) => line.trim() !== '');
    expect(code, `stderr:\n${stderr}`).toBe(1);
    expect(lines, `stderr:\n${stderr}`).toHaveLength(1);
    expect(lines[0]).toContain('PORT');
    expect(lines[0]).toContain('abc');
    expect(stderr).not.toMatch(/\bat .*:\d+:\d+/);
    expect(stdout).toBe('');
  });
});
