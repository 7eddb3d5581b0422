import { type App, buildApp } from '../../src/app.js';
import { clearCaches } from '../../src/cache/index.js';
import { loadConfig } from '../../src/config.js';
import { SqlStatementCounter } from '../../src/db/client.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { type Disposer, waitFor } from './dispose.js';

/** Test code reads response data loosely; the assertions are the type check. */
// biome-ignore lint/suspicious/noExplicitAny: response shapes vary per query.
export type AnyData = any;

export interface GraphQLErrorJson {
  message: string;
  path?: (string | number)[];
  locations?: { line: number; column: number }[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphQLResponseBody<T = AnyData> {
  data?: T | null;
  errors?: GraphQLErrorJson[];
}

export interface QueryResult<T = AnyData> {
  status: number;
  body: GraphQLResponseBody<T>;
  /** The raw response text, for asserting what must never leak. */
  text: string;
}

export interface TestServer {
  app: App;
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  graphqlUrl: string;
  databaseUrl: string;
  sqlCounter: SqlStatementCounter;
  /** POSTs a GraphQL request as JSON and parses the answer. */
  query<T = AnyData>(
    document: string,
    variables?: Record<string, unknown>,
    options?: { token?: string },
  ): Promise<QueryResult<T>>;
  /**
   * Resolves once the server's background work (the first stats computation,
   * recomputes after writes) is over: no statement for `quietMs`.
   */
  waitForIdle(quietMs?: number): Promise<void>;
  /** Empties the cross-request caches (counts, search pages, reference lists, stats). */
  clearCaches(): void;
  /** Stops the server and, when the server created it, drops its database. Idempotent. */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Database to serve (URL or a {@link TestDatabase}); by default a fresh seeded clone owned by the server. */
  database?: TestDatabase | string;
  /** With no `database`: clone the empty (migrated only) template instead of the seeded one. */
  empty?: boolean;
  /** Registers `stop()` on this list (e.g. from disposeAfterEach()). */
  disposer?: Disposer;
  /** Wait for the start-up background work before resolving (default true). */
  waitForIdle?: boolean;
}

const DEFAULT_QUIET_MS = 150;

/**
 * Starts the real app (config → buildApp → start) on a free loopback port,
 * like graphql-ws' tservers: each test or file gets a server of its own.
 * Set TEST_LOG_LEVEL=debug to see its logs.
 */
export async function startTestServer(
  overrides: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  let ownDatabase: TestDatabase | undefined;
  let databaseUrl: string;
  if (typeof options.database === 'string') databaseUrl = options.database;
  else if (options.database) databaseUrl = options.database.url;
  else {
    ownDatabase = await createTestDatabase({ empty: options.empty });
    databaseUrl = ownDatabase.url;
  }

  const logLevel = process.env.TEST_LOG_LEVEL ?? 'silent';
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: logLevel,
    NODE_ENV: 'test',
    // The suite reads anonymously; auth tests override this.
    ALLOW_ANONYMOUS_READS: 'true',
    ...overrides,
  });
  const sqlCounter = new SqlStatementCounter();
  const app = buildApp(config, { log: createLogger(config.logLevel), sqlCounter });

  let running: Awaited<ReturnType<App['start']>>;
  try {
    running = await app.start();
  } catch (error) {
    await ownDatabase?.drop();
    throw error;
  }

  // When the pool last sent a statement: what "idle" is measured from.
  let lastStatementAt = Date.now();
  const unobserve = sqlCounter.observe(() => {
    lastStatementAt = Date.now();
  });

  let stopped: Promise<void> | undefined;
  const server: TestServer = {
    app,
    url: running.url,
    graphqlUrl: running.graphqlUrl,
    databaseUrl: running.databaseUrl,
    sqlCounter,
    async query<T>(
      document: string,
      variables?: Record<string, unknown>,
      options: { token?: string } = {},
    ) {
      const response = await fetch(running.graphqlUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ query: document, variables }),
      });
      const text = await response.text();
      let body: GraphQLResponseBody<T>;
      try {
        body = JSON.parse(text) as GraphQLResponseBody<T>;
      } catch {
        throw new Error(`response is not JSON (status ${response.status}): ${text.slice(0, 500)}`);
      }
      return { status: response.status, body, text };
    },
    async waitForIdle(quietMs = DEFAULT_QUIET_MS) {
      // The change detector's first LISTEN asks for a resync: a stats
      // recompute that starts a few ms later, on the same pool.
      await waitFor(
        () => (app.stats?.metrics.recomputes ?? 1) > 0 && Date.now() - lastStatementAt >= quietMs,
        15_000,
        Math.max(5, Math.floor(quietMs / 5)),
      );
    },
    clearCaches() {
      clearCaches(app.caches);
    },
    stop() {
      stopped ??= (async () => {
        unobserve();
        try {
          await app.stop();
        } finally {
          await ownDatabase?.drop();
        }
      })();
      return stopped;
    },
  };
  options.disposer?.add(() => server.stop());
  if (options.waitForIdle ?? true) {
    try {
      await server.waitForIdle();
    } catch (error) {
      await server.stop();
      throw error;
    }
  }
  return server;
}
