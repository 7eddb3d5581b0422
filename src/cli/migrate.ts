import { EMBEDDED_DATABASE_NAME } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { startEmbeddedPostgres } from '../db/embedded.js';
import { runMigrations } from '../db/migrate.js';

try {
  const config = loadConfig();
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({
        ...config.database.embedded,
        database: EMBEDDED_DATABASE_NAME,
      });
  try {
    await runMigrations(config.database.url ?? (embedded?.url as string));
    process.stdout.write('migrations applied\n');
  } finally {
    await embedded?.stop();
  }
} catch (error) {
  const message =
    error instanceof ConfigError
      ? `Configuration error: ${error.message}`
      : `Migration failed: ${error instanceof Error ? error.message : String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}
