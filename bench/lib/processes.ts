import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '../../src/db/embedded.js';

/** The repository root: the API child runs from here. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  url: string;
  graphqlUrl: string;
  pid: number;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process exited. */
  stop(): Promise<void>;
}

function waitForExit(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function waitUntilAnswering(
  child: ChildProcess,
  probeUrl: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${probeUrl}: the process exited early`);
    try {
      const response = await fetch(probeUrl, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${probeUrl} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts `node <args>` as its own process on a free loopback
 * port and waits until `probePath` answers 200. The child is killed if this
 * process exits without stopping it.
 */
async function startProcess(
  args: string[],
  env: Record<string, string>,
  probePath: string,
): Promise<ServerProcess> {
  const port = await findFreePort();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    child.kill('SIGTERM');
    await waitForExit(child, 10_000);
  };
  try {
    await waitUntilAnswering(child, `${url}${probePath}`, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  if (child.pid === undefined) throw new Error(`${args.join(' ')} has no pid`);
  return { url, graphqlUrl: `${url}/graphql`, pid: child.pid, stop };
}

/** The bench scrapes `/metrics` as an operator would: with the token production requires. */
const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789';

export interface ApiOptions {
  databaseUrl: string;
  coalesceMs?: number;
  /** WEB_CONCURRENCY: worker processes sharing the port (default 1). */
  workers?: number;
  /** Settings of a scenario's own (e.g. a limit turned off for the figure before). */
  env?: Record<string, string>;
}

/**
 * The API as it runs in production, in a process of its own so the load
 * generators do not share its event loop. Anonymous reads are allowed so
 * the bench does not depend on authentication settings.
 */
export function startApi(options: ApiOptions): Promise<ServerProcess> {
  // What `npm start` runs: the compiled server (rebuilt first if the sources changed).
  return startProcess(
    ['src/cli/start.mjs'],
    {
      DATABASE_URL: options.databaseUrl,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      CHANGE_DETECTION: 'notify',
      STATS_COALESCE_MS: String(options.coalesceMs ?? 100),
      SEED_ON_FIRST_START: 'false',
      GRAPHIQL: 'false',
      DASHBOARD: 'false',
      ALLOW_ANONYMOUS_READS: 'true',
      METRICS_TOKEN: BENCH_METRICS_TOKEN,
      WEB_CONCURRENCY: String(options.workers ?? 1),
      ...options.env,
    },
    '/ready',
  );
}

/** A plain `ws` broadcast of one pre-built buffer (bench/ws-broadcast-server.ts): the push-latency reference. */
export function startWsBroadcast(payloadBytes: number): Promise<ServerProcess> {
  return startProcess(
    ['--import', 'tsx', 'bench/ws-broadcast-server.ts'],
    { PAYLOAD_BYTES: String(payloadBytes) },
    '/health',
  );
}

/** A plain graphql-yoga hello-world server: the reference for the throughput ratios. */
export function startHelloWorld(): Promise<ServerProcess> {
  return startProcess(
    ['--import', 'tsx', 'bench/hello-server.ts'],
    { NODE_ENV: 'production' },
    '/health',
  );
}

/**
 * PostGraphile 5 on the same database, production mode: the generated
 * server the read-path rows compare the API with.
 */
export function startPostGraphile(databaseUrl: string): Promise<ServerProcess> {
  return startProcess(
    ['--import', 'tsx', 'bench/postgraphile-server.ts'],
    { DATABASE_URL: databaseUrl, NODE_ENV: 'production', GRAPHILE_ENV: 'production' },
    '/health',
  );
}

/** CPU time (user + system) a process has used so far, in milliseconds, from /proc. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at "state": utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux build the bench runs on; `getconf CLK_TCK` says so when available. */
const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The counters the API exports on `/metrics` that the bench reads. */
export interface ApiCounters {
  sqlStatements: number;
  recomputes: number;
  pushes: number;
  subscriptions: number;
  webSockets: number;
  rssBytes: number;
  /** statsChanged WebSocket fan-out over all pushes: wall and CPU seconds spent, members written. */
  fanOut: { seconds: number; cpuSeconds: number; members: number };
  /** Server side of the push path: change notification received → snapshot handed to the subscribers. */
  changeToPushSeconds: { sum: number; count: number };
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  if (!line) throw new Error(`/metrics has no ${name}`);
  return Number(line.slice(name.length + 1));
}

/** Reads the API's counters from `/metrics`. */
export async function readCounters(api: ServerProcess): Promise<ApiCounters> {
  const response = await fetch(`${api.url}/metrics`, {
    headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` },
  });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  return {
    sqlStatements: metricValue(text, 'sql_statements_total'),
    recomputes: metricValue(text, 'stats_recomputes_total'),
    pushes: metricValue(text, 'stats_pushes_total'),
    subscriptions: metricValue(text, 'stats_subscriptions'),
    webSockets: metricValue(text, 'websocket_connections'),
    rssBytes: metricValue(text, 'process_resident_memory_bytes'),
    fanOut: {
      seconds: metricValue(text, 'stats_fanout_duration_seconds_sum'),
      cpuSeconds: metricValue(text, 'stats_fanout_cpu_seconds_total'),
      members: metricValue(text, 'stats_fanout_members_sum'),
    },
    changeToPushSeconds: {
      sum: metricValue(text, 'stats_change_to_push_seconds_sum'),
      count: metricValue(text, 'stats_change_to_push_seconds_count'),
    },
  };
}

/**
 * Counts the SQL statements `work` makes the API send, by reading the
 * counter before and after. A scrape costs statements of its own (the
 * notification-queue gauge queries the database): two back-to-back scrapes
 * measure that cost, which is subtracted.
 */
export async function countApiStatements(
  api: ServerProcess,
  work: () => Promise<unknown>,
): Promise<number> {
  const first = await readCounters(api);
  const second = await readCounters(api);
  const scrapeCost = second.sqlStatements - first.sqlStatements;
  await work();
  const after = await readCounters(api);
  return after.sqlStatements - second.sqlStatements - scrapeCost;
}
