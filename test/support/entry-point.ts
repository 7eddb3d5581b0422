import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Disposer } from './dispose.js';
import { waitFor } from './dispose.js';

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess extends NodeProcess {
  graphqlUrl: string;
}

export interface EntryPointOptions {
  /** Exactly the environment the process sees (PATH is added). */
  env: Record<string, string | undefined>;
  disposer: Disposer;
  /** The checkout to run from; the repository by default. */
  cwd?: string;
  /** Node's arguments; {@link startCommand} by default. */
  command?: string[];
  readyTimeoutMs?: number;
}

/**
 * The command `npm start` runs (the compiled server, rebuilt first if the
 * sources changed). Not through npm or the tsx CLI: each relays signals
 * through a parent process (tsx's SIGKILLs the app when it does not
 * acknowledge a signal within 30 ms, as happens under load).
 */
export function startCommand(): string[] {
  return ['src/cli/start.mjs'];
}

export interface NodeProcess {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Runs `node <args>` with exactly `env` (PATH added), collecting its output;
 * the disposer kills it if it is still running.
 */
export function spawnNode(
  args: string[],
  options: { env: Record<string, string | undefined>; disposer: Disposer; cwd?: string },
): NodeProcess {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? repositoryRoot,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  options.disposer.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, output: () => output, exited };
}

/** Runs the real entry point, as an operator would, and waits for its "ready" line. */
export async function spawnEntryPoint(options: EntryPointOptions): Promise<ServerProcess> {
  const { child, output, exited } = spawnNode(options.command ?? startCommand(), options);
  const graphqlUrl = await waitFor(
    () =>
      /ready at (http:\/\/\S+\/graphql)/.exec(output())?.[1] ??
      (child.exitCode !== null ? 'exited' : null),
    options.readyTimeoutMs ?? 60_000,
    50,
  );
  if (graphqlUrl === 'exited') throw new Error(`server exited at start:\n${output()}`);
  return { child, graphqlUrl, exited, output };
}

/**
 * The entry point on a test database, on a free loopback port, with the
 * test defaults (anonymous reads keep a test about what it tests, not
 * credentials); `env` overrides them, but must leave the `info` level on
 * (the ready line is read).
 */
export function spawnTestServer(
  databaseUrl: string,
  env: Record<string, string>,
  disposer: Disposer,
): Promise<ServerProcess> {
  return spawnEntryPoint({
    disposer,
    env: {
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      ALLOW_ANONYMOUS_READS: 'true',
      ...env,
    },
  });
}

/** True until the process exits, whatever the reason. */
export function isRunning(server: ServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the entry point until it exits by itself (a start that must fail), within `timeoutMs`. */
export function runEntryPointToExit(
  options: Omit<EntryPointOptions, 'disposer' | 'readyTimeoutMs'> & { timeoutMs?: number },
): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      startCommand(),
      {
        cwd: options.cwd ?? repositoryRoot,
        env: { PATH: process.env.PATH, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? null : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
