import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureBuilt } from '../../src/cli/build.mjs';
import { withDatabaseName } from '../../src/db/client.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { runMigrations } from '../../src/db/migrate.js';
import { seedDemoData } from '../../src/db/seed/index.js';

/**
 * Picks one PostgreSQL server for the whole run, builds two template
 * databases on it once (migrated-and-empty, and migrated-and-seeded), and
 * hands their names to the test files, which clone a database of their own
 * from them in a few tens of milliseconds (`CREATE DATABASE … TEMPLATE …`).
 *
 * Server, in order of preference:
 * 1. `TEST_DATABASE_URL`: an admin URL on a server where tests may CREATE DATABASE;
 * 2. a throwaway PostgreSQL 16 container (testcontainers) when a Docker engine answers;
 * 3. an embedded PostgreSQL (the npm binaries) in a fresh temp folder.
 *
 * `TEST_DATABASE_PROVIDER=embedded|testcontainers` skips the detection.
 */

export type DatabaseProvider = 'external' | 'testcontainers' | 'embedded';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin connection URL (database `postgres` or the server's default) of the test server. */
    testDatabaseAdminUrl: string;
    /** Migrated and seeded with the small demo set; clone it, never connect to it. */
    testDatabaseTemplate: string;
    /** Migrated, no rows. */
    testDatabaseEmptyTemplate: string;
    /** Every database this run creates starts with it (teardown drops leftovers by it). */
    testDatabasePrefix: string;
    testDatabaseProvider: DatabaseProvider;
  }
}

/** Small but big enough for several pages at every page size the tests use. */
export const TEST_SEED = { consultants: 120, missions: 600, documents: 150, seed: 7 } as const;

const DOCKER_PROBE_TIMEOUT_MS = 3_000;
const POSTGRES_IMAGE = 'postgres:16-alpine';

/**
 * Durability is worthless for throwaway data: without fsync a clone and a
 * seed cost a fraction of the time. Enough connections for every parallel
 * file's pool.
 */
const SERVER_SETTINGS = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: 300,
} as const;

interface Server {
  provider: DatabaseProvider;
  adminUrl: string;
  /** Describes the server in the log line, without credentials. */
  description: string;
  stop(): Promise<void>;
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when a Docker (or Podman…) engine answers; never hangs, never throws. */
async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS, 'Docker probe');
    return true;
  } catch {
    return false;
  }
}

async function externalServer(url: string): Promise<Server> {
  return {
    provider: 'external',
    adminUrl: url,
    description: withoutPassword(url),
    stop: async () => {},
  };
}

async function containerServer(): Promise<Server> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer(POSTGRES_IMAGE)
    .withCommand([
      'postgres',
      ...Object.entries(SERVER_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ])
    .start();
  return {
    provider: 'testcontainers',
    // The image's POSTGRES_USER is a superuser; its own database is as good an admin database as any.
    adminUrl: container.getConnectionUri(),
    description: `${POSTGRES_IMAGE} on port ${container.getPort()}`,
    stop: async () => {
      await container.stop();
    },
  };
}

async function embeddedServer(): Promise<Server> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'consultator-test-'));
  // Run as root, the cluster belongs to a `postgres` user that must be able to
  // traverse this folder to reach its data folder (mkdtemp makes it 0700).
  await chmod(folder, 0o755);
  const dataDir = path.join(folder, 'pgdata');
  try {
    const server = await startEmbeddedPostgres({
      dataDir,
      port: 0,
      database: 'postgres',
      persistent: false,
      settings: SERVER_SETTINGS,
    });
    return {
      provider: 'embedded',
      adminUrl: server.url,
      description: `embedded PostgreSQL on port ${server.port} in ${dataDir}`,
      stop: async () => {
        await server.stop();
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}

async function pickServer(): Promise<Server> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) return externalServer(url);
  const forced = process.env.TEST_DATABASE_PROVIDER;
  if (forced === 'embedded') return embeddedServer();
  if (forced === 'testcontainers' || (await dockerAnswers())) return containerServer();
  return embeddedServer();
}

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: adminUrl,
    application_name: 'consultator-test-setup',
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A template cannot be cloned while anyone is connected to it, and a backend
 * outlives its client's `end()` by a moment: wait until the server agrees.
 */
async function waitUntilNoConnections(client: pg.Client, database: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    if (rows[0]?.n === 0) return;
    if (Date.now() > deadline) throw new Error(`connections to ${database} remain open`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Makes a database clonable by anyone with CREATEDB and closes it to connections. */
async function freezeTemplate(client: pg.Client, database: string): Promise<void> {
  await waitUntilNoConnections(client, database);
  await client.query(
    `ALTER DATABASE ${pg.escapeIdentifier(database)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`,
  );
}

async function dropDatabasesWithPrefix(adminUrl: string, prefix: string): Promise<string[]> {
  return withAdmin(adminUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1',
      [prefix],
    );
    for (const { datname } of rows) {
      const name = pg.escapeIdentifier(datname);
      await client.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
    return rows.map((row) => row.datname);
  });
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const prefix = `consultator_t${runId}_`;
  const emptyTemplate = `${prefix}empty`;
  const template = `${prefix}template`;

  // Tests that run the entry point run the compiled server: build it once, before they race to.
  const [server] = await Promise.all([pickServer(), ensureBuilt()]);
  const serverMs = Date.now() - started;
  let teardownDone = false;
  const teardown = async () => {
    if (teardownDone) return;
    teardownDone = true;
    try {
      // An embedded or container server goes away whole; an external one keeps
      // running, so clean up after ourselves (and after files that crashed).
      if (server.provider === 'external') await dropDatabasesWithPrefix(server.adminUrl, prefix);
    } finally {
      await server.stop();
    }
  };

  let migrateMs = 0;
  try {
    await withAdmin(server.adminUrl, async (client) => {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(emptyTemplate)}`);
    });
    await runMigrations(withDatabaseName(server.adminUrl, emptyTemplate));
    migrateMs = Date.now() - started - serverMs;
    await withAdmin(server.adminUrl, async (client) => {
      await waitUntilNoConnections(client, emptyTemplate);
      await client.query(
        `CREATE DATABASE ${pg.escapeIdentifier(template)} TEMPLATE ${pg.escapeIdentifier(emptyTemplate)}`,
      );
      await freezeTemplate(client, emptyTemplate);
    });

    const pool = new pg.Pool({
      connectionString: withDatabaseName(server.adminUrl, template),
      max: 2,
      application_name: 'consultator-test-seed',
    });
    try {
      await seedDemoData(pool, TEST_SEED);
      // Fresh statistics, so plans in the clones match what a real database gets.
      await pool.query('ANALYZE');
    } finally {
      await pool.end();
    }
    await withAdmin(server.adminUrl, (client) => freezeTemplate(client, template));
  } catch (error) {
    await teardown();
    throw error;
  }

  project.provide('testDatabaseAdminUrl', server.adminUrl);
  project.provide('testDatabaseTemplate', template);
  project.provide('testDatabaseEmptyTemplate', emptyTemplate);
  project.provide('testDatabasePrefix', prefix);
  project.provide('testDatabaseProvider', server.provider);

  console.log(
    `[test database] ${server.provider}: ${server.description}; templates ready in ${Date.now() - started} ms` +
      ` (server ${serverMs} ms, migrations ${migrateMs} ms, seed ${Date.now() - started - serverMs - migrateMs} ms)`,
  );

  return teardown;
}
