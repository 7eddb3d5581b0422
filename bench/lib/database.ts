import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { withDatabaseName } from '../../src/db/client.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { runMigrations } from '../../src/db/migrate.js';
import { type SeedSummary, seedDemoData } from '../../src/db/seed/index.js';

/** The PostgreSQL server a bench run creates its throwaway databases on. */
export interface BenchServer {
  adminUrl: string;
  /** For the report: where it runs and its durability settings, no credentials. */
  description: string;
  stop(): Promise<void>;
}

export interface ThrowawayDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export interface DataSize {
  consultants: number;
  missions: number;
}

/** Runs `work` on a short-lived client; the client has an error listener so a dropped backend cannot crash the run. */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'consultator-bench' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function describeSettings(adminUrl: string): Promise<string> {
  return withClient(adminUrl, async (client) => {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings
        WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers')
        ORDER BY name`,
    );
    return rows.map((row) => `${row.name}=${row.setting}`).join(', ');
  });
}

/**
 * The server behind `adminUrl` when given (databases are created on it and
 * dropped afterwards), else an embedded PostgreSQL in a temporary folder
 * that goes away whole, so the bench needs nothing installed.
 */
export async function openBenchServer(adminUrl: string | undefined): Promise<BenchServer> {
  if (adminUrl) {
    return {
      adminUrl,
      description: `external PostgreSQL (${await describeSettings(adminUrl)})`,
      stop: async () => {},
    };
  }
  const folder = await mkdtemp(path.join(os.tmpdir(), 'consultator-bench-'));
  // Run as root, the cluster's `postgres` user must traverse this folder (mkdtemp makes it 0700).
  await chmod(folder, 0o755);
  try {
    const server = await startEmbeddedPostgres({
      dataDir: path.join(folder, 'pgdata'),
      port: 0,
      database: 'postgres',
      persistent: false,
      // Room for the API pool, the writers and the bench's own connections.
      settings: { max_connections: 200 },
    });
    return {
      adminUrl: server.url,
      description: `embedded PostgreSQL (${await describeSettings(server.url)})`,
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

/** Creates and migrates a database named `bench_<label>_<random>`; `drop()` removes it. */
export async function createThrowawayDatabase(
  server: BenchServer,
  label: string,
): Promise<ThrowawayDatabase> {
  const name = `bench_${label}_${randomBytes(3).toString('hex')}`;
  await withClient(server.adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = withDatabaseName(server.adminUrl, name);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await withClient(server.adminUrl, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    );
  };
  try {
    await runMigrations(url);
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, url, drop };
}

/** Loads the deterministic demo data set with the project's COPY seeder and analyses it. */
export async function loadDemoData(
  database: ThrowawayDatabase,
  size: DataSize,
  onProgress?: (message: string) => void,
): Promise<SeedSummary> {
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => {});
  try {
    return await seedDemoData(pool, {
      ...size,
      // The demo set's proportion: two documents per consultant.
      documents: size.consultants * 2,
      seed: 42,
      onProgress,
    });
  } finally {
    await pool.end();
  }
}

export function formatSize(size: DataSize): string {
  const short = (n: number) =>
    n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n);
  return `${short(size.consultants)} consultants / ${short(size.missions)} missions`;
}
