/**
 * Commit → client push latency of `statsChanged` over graphql-ws.
 *
 *   npx tsx bench/push-latency.ts [--url postgres://postgres@127.0.0.1:5432/postgres]
 *     [--subscribers 100] [--writes 50] [--gap-ms 150] [--coalesce-ms 100]
 *
 * Creates a throwaway database on the server behind the admin `--url`,
 * migrates it and loads the demo set, then runs the API as a separate
 * process (so the clients' work does not share the server's event loop)
 * and connects `--subscribers` graphql-ws clients, one socket each. Each
 * write is one transaction that moves an aggregate (a consultant's
 * availability); its latency, per subscriber, is from the moment COMMIT
 * returned to the writer until that subscriber received the new version.
 * Writes are spaced by `--gap-ms` so each one is a fresh change, not part of
 * a coalesced burst. Prints p50 / p95 / p99 / max over all samples.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { findFreePort } from '../src/db/embedded.js';
import { runMigrations } from '../src/db/migrate.js';
import { seedDemoData } from '../src/db/seed/index.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    subscribers: { type: 'string', default: '100' },
    writes: { type: 'string', default: '50' },
    'gap-ms': { type: 'string', default: '150' },
    'coalesce-ms': { type: 'string', default: '100' },
  },
});
const subscriberCount = Number(values.subscribers);
const writeCount = Number(values.writes);
const gapMs = Number(values['gap-ms']);
// Bounded on purpose: this runs on shared machines and only on loopback.
if (!(subscriberCount >= 1 && subscriberCount <= 20_000)) throw new Error('--subscribers: 1…20000');
if (!(writeCount >= 1 && writeCount <= 1_000)) throw new Error('--writes: 1…1000');
if (!(gapMs >= 0 && gapMs <= 10_000)) throw new Error('--gap-ms: 0…10000');

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function startServer(url: string, port: number, coalesceMs: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      CHANGE_DETECTION: 'notify',
      STATS_COALESCE_MS: coalesceMs,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ stats { version } }' }),
      });
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('API did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const name = `bench_latency_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: values.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = databaseUrl(values.url, name);
  let server: ChildProcess | undefined;
  const clients: ReturnType<typeof createClient>[] = [];
  try {
    await runMigrations(url);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    await seedDemoData(pool, { consultants: 1_000, missions: 10_000, documents: 2_000, seed: 42 });
    await pool.end();

    const port = await findFreePort();
    server = await startServer(url, port, values['coalesce-ms']);

    // Per subscriber: when each version arrived.
    const arrivals: Map<string, number>[] = [];
    for (let i = 0; i < subscriberCount; i += 1) {
      const seen = new Map<string, number>();
      arrivals.push(seen);
      const client = createClient({
        url: `ws://127.0.0.1:${port}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
      });
      clients.push(client);
      client.subscribe<{ statsChanged: { version: string } }>(
        { query: 'subscription { statsChanged { version consultants { total onMission } } }' },
        {
          next: (result) => {
            const version = result.data?.statsChanged.version;
            if (version && !seen.has(version)) seen.set(version, performance.now());
          },
          error: (error) => console.error('subscription error', error),
          complete: () => {},
        },
      );
    }
    await waitFor(() => arrivals.every((seen) => seen.size >= 1), 60_000, 'initial snapshots');

    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    const { rows } = await writer.query<{ id: number }>(
      'SELECT id FROM consultants ORDER BY id LIMIT 200',
    );
    const samples: number[] = [];
    for (let i = 0; i < writeCount; i += 1) {
      const id = rows[i % rows.length]?.id;
      const versionsBefore = arrivals.map((seen) => seen.size);
      await writer.query('BEGIN');
      await writer.query(
        `UPDATE consultants SET availability = CASE availability
           WHEN 'AVAILABLE' THEN 'UNAVAILABLE'::availability ELSE 'AVAILABLE'::availability END
         WHERE id = $1`,
        [id],
      );
      await writer.query('COMMIT');
      const committedAt = performance.now();
      await waitFor(
        () => arrivals.every((seen, index) => seen.size > (versionsBefore[index] ?? 0)),
        10_000,
        `push of write ${i + 1}`,
      );
      for (const seen of arrivals)
        samples.push(([...seen.values()].at(-1) as number) - committedAt);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    await writer.end();

    samples.sort((a, b) => a - b);
    const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
    console.log(
      `push latency, ${subscriberCount} subscribers, ${writeCount} writes (${samples.length} samples): ` +
        `p50 ${fmt(percentile(samples, 50))}, p95 ${fmt(percentile(samples, 95))}, ` +
        `p99 ${fmt(percentile(samples, 99))}, max ${fmt(samples.at(-1) as number)}`,
    );
    console.log(
      JSON.stringify({
        metric: 'commit_to_push_ms',
        subscribers: subscriberCount,
        writes: writeCount,
        p50: percentile(samples, 50),
        p95: percentile(samples, 95),
        p99: percentile(samples, 99),
        max: samples.at(-1),
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client.dispose()));
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
