import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createPool, SqlStatementCounter } from '../db/client.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../db/embedded.js';
import { runMigrations } from '../db/migrate.js';
import {
  DEFAULT_SEED_OPTIONS,
  isDatabaseEmpty,
  type SeedOptions,
  type SeedSummary,
  seedDemoData,
  validateSeedOptions,
} from '../db/seed/index.js';

const defaults = DEFAULT_SEED_OPTIONS;
const USAGE = `usage: npm run db:seed -- [options]

Loads the deterministic demo data set into the database the app uses:
DATABASE_URL, or the embedded PostgreSQL when it is unset.

  --consultants N  (default ${defaults.consultants})
  --missions M     (default ${defaults.missions})
  --documents D    (default ${defaults.documents})
  --seed S         same seed, same data (default ${defaults.seed})
  --practices P    1 to 12 (default ${defaults.practices})
  --reset          replace the staffing data already there, in the same transaction
  --if-empty       seed only an empty database; otherwise do nothing and exit 0
  --verbose        report progress on stderr
  --help`;

/** A mistake on the command line: printed as one line, no stack trace. */
class UsageError extends Error {}

interface SeedCommand {
  help: boolean;
  verbose: boolean;
  ifEmpty: boolean;
  options: SeedOptions;
}

function parseWholeNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${flag} must be a whole number of zero or more (got "${text}")`);
  }
  return Number(text);
}

function parseSeed(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SEED_OPTIONS.seed;
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--seed must be a whole number (got "${text}")`);
  }
  return Number(text);
}

const FLAGS = {
  consultants: { type: 'string' },
  missions: { type: 'string' },
  documents: { type: 'string' },
  seed: { type: 'string' },
  practices: { type: 'string' },
  reset: { type: 'boolean', default: false },
  'if-empty': { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs explains itself well ("Unknown option '--foo'…"); only the trace goes.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parseCommand(argv: string[]): SeedCommand {
  const values = parseFlags(argv);
  const options: SeedOptions = {
    consultants: parseWholeNumber(
      'consultants',
      values.consultants,
      DEFAULT_SEED_OPTIONS.consultants,
    ),
    missions: parseWholeNumber('missions', values.missions, DEFAULT_SEED_OPTIONS.missions),
    documents: parseWholeNumber('documents', values.documents, DEFAULT_SEED_OPTIONS.documents),
    seed: parseSeed(values.seed),
    practices: parseWholeNumber('practices', values.practices, defaults.practices ?? 8),
    reset: values.reset,
  };
  try {
    validateSeedOptions(options);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.reset && values['if-empty']) {
    throw new UsageError('--reset and --if-empty contradict each other');
  }
  return { help: values.help, verbose: values.verbose, ifEmpty: values['if-empty'], options };
}

function formatSummary(summary: SeedSummary, seed: number): string {
  const { counts } = summary;
  const n = (value: number) => value.toLocaleString('en-US');
  return (
    `seeded ${n(counts.practices)} practices, ${n(counts.skills)} skills, ` +
    `${n(counts.consultants)} consultants, ${n(counts.consultantSkills)} consultant skills, ` +
    `${n(counts.missions)} missions, ${n(counts.documents)} documents ` +
    `in ${(summary.elapsedMs / 1000).toFixed(1)} s (seed ${seed})`
  );
}

/** Runs the command and returns the exit code; throws only for unexpected failures. */
async function main(argv: string[]): Promise<number> {
  let command: SeedCommand;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // One line, even for parseArgs' multi-sentence messages.
    process.stderr.write(`db:seed: ${error.message.replace(/\s*\n\s*/g, ' ')} (see --help)\n`);
    return 1;
  }
  if (command.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`db:seed: ${error.message}\n`);
    return 1;
  }

  const progress = command.verbose
    ? (message: string) => process.stderr.write(`db:seed: ${message}\n`)
    : undefined;
  let embedded: EmbeddedPostgres | undefined;
  try {
    let url = config.database.url;
    if (url === undefined) {
      progress?.('starting embedded PostgreSQL');
      embedded = await startEmbeddedPostgres({
        ...config.database.embedded,
        database: 'consultator',
      });
      url = embedded.url;
    }
    progress?.('applying migrations');
    await runMigrations(url);

    const pool = createPool({
      connectionString: url,
      // The seeder works on one connection; the second serves the emptiness check.
      max: 2,
      counter: new SqlStatementCounter(),
      applicationName: 'consultator-seed',
    });
    // pool.end() resolves before its sockets have closed; stopping the
    // embedded server right after makes it send "terminating connection" to
    // them, which an idle client re-emits on the pool and, unhandled, crashes
    // the process. Queries in flight still reject as usual.
    pool.on('error', () => {});
    try {
      if (!command.options.reset && !(await isDatabaseEmpty(pool))) {
        if (command.ifEmpty) {
          process.stdout.write('db:seed: the database already holds data; nothing to do\n');
          return 0;
        }
        process.stderr.write(
          'db:seed: the database already holds data; pass --reset to replace it\n',
        );
        return 1;
      }
      const summary = await seedDemoData(pool, { ...command.options, onProgress: progress });
      process.stdout.write(`${formatSummary(summary, command.options.seed)}\n`);
      return 0;
    } finally {
      await pool.end();
    }
  } finally {
    await embedded?.stop();
  }
}

// Ctrl-C mid-load: exiting closes the connection, so PostgreSQL rolls the
// transaction back, and the 'exit' hook of the embedded server stops it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`db:seed: interrupted by ${signal}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Database and server failures: their message is what the user needs.
    const message = error instanceof Error ? error.message : String(error);
    const cause =
      error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    process.stderr.write(`db:seed: ${message}${cause}\n`);
    process.exitCode = 1;
  },
);
