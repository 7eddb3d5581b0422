import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { projectRoot } from '../project-root.js';
import { handleConnectionErrors } from './client.js';

export const migrationsFolder = path.join(projectRoot, 'drizzle');

// Any constant works; it only has to be the same for every instance.
const MIGRATION_LOCK_KEY = 7_312_004_211;

/**
 * Applies the migrations in `drizzle/`. Several API instances may start at
 * once against one database, so the run is serialized by an advisory lock on
 * a connection of its own.
 */
export async function runMigrations(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString, application_name: 'consultator-migrate' });
  // A lost connection fails the statement that runs, which fails the start-up with its reason.
  handleConnectionErrors(client, () => {});
  await client.connect();
  try {
    // Migrations are noisy with NOTICEs ("already exists, skipping"); they are expected.
    client.on('notice', () => {});
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}
