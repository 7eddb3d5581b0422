import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { insertAvailableConsultant } from './support/database.js';
import { type Disposer, disposeAfterEach, waitFor } from './support/dispose.js';
import { spawnEntryPoint, spawnNode } from './support/entry-point.js';
import { startTestServer } from './support/server.js';

/**
 * Every script of client-examples/ run as a user runs it (a child process,
 * through tsx) against a server started with its default settings: CSRF
 * prevention on, anonymous reads as in the embedded demo.
 */

const dispose = disposeAfterEach();
const LIVE_TIMEOUT_MS = 30_000;
/** One line of the subscription examples per new version of the stats. */
const VERSION_LINE = /^v(\d+)\s+computedAt \S+\s+consultants (\d+)/;

interface Example {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
  /** The stats versions printed so far, with the consultants total of each. */
  versions(): { version: bigint; consultants: number }[];
  /** Ctrl-C, as a user stops it; resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

function runExample(
  disposer: Disposer,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Example {
  // Not the test's environment: no API_TOKEN, no DATABASE_URL leaks in.
  const { child, output, exited } = spawnNode(
    ['--import', 'tsx', `client-examples/${script}`, ...args],
    { env, disposer },
  );
  return {
    child,
    output,
    exited,
    versions: () =>
      output()
        .split('\n')
        .flatMap((line) => {
          const match = VERSION_LINE.exec(line);
          return match ? [{ version: BigInt(match[1] ?? '0'), consultants: Number(match[2]) }] : [];
        }),
    interrupt() {
      child.kill('SIGINT');
      return exited;
    },
  };
}

/** Waits for the first version line, failing early with the output if the script exits. */
async function firstVersion(example: Example): Promise<{ version: bigint; consultants: number }> {
  return waitFor(() => {
    if (example.child.exitCode !== null) {
      throw new Error(`exited with ${example.child.exitCode}:\n${example.output()}`);
    }
    return example.versions()[0];
  }, LIVE_TIMEOUT_MS);
}

/** Waits for a version newer than `after` that counts `consultants`. */
function newerVersion(example: Example, after: bigint, consultants: number) {
  return waitFor(
    () =>
      example.versions().find((line) => line.version > after && line.consultants === consultants),
    LIVE_TIMEOUT_MS,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\noutput:\n${example.output()}`);
  });
}

describe('client examples', () => {
  it('walk-consultants.ts (@urql/core with its default options) sees every consultant once', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const { body } = await server.query('{ consultants(first: 1) { totalCount } }');
    const total: number = body.data.consultants.totalCount;

    const walk = runExample(dispose, 'walk-consultants.ts', ['--url', server.graphqlUrl]);
    expect(await walk.exited, walk.output()).toBe(0);
    expect(walk.output()).toContain(`consultants seen: ${total}\n`);
    expect(walk.output()).toMatch(/^match:\s+yes$/m);
  });

  for (const script of ['subscribe-stats.ts', 'subscribe-stats-sse.ts']) {
    it(`${script} prints the new version a committed write brings, and stops on Ctrl-C with 0`, async () => {
      const server = await startTestServer({}, { disposer: dispose });
      const subscriber = runExample(dispose, script, ['--url', server.graphqlUrl]);
      const first = await firstVersion(subscriber);

      await insertAvailableConsultant(server.databaseUrl, `eve.${script}@example.test`);

      await newerVersion(subscriber, first.version, first.consultants + 1);
      expect(await subscriber.interrupt(), subscriber.output()).toBe(0);
    });
  }

  it('simulate-writes.ts commits changes that reach a subscriber', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const subscriber = runExample(dispose, 'subscribe-stats.ts', ['--url', server.graphqlUrl]);
    const first = await firstVersion(subscriber);

    const simulator = runExample(dispose, 'simulate-writes.ts', [
      '--database-url',
      server.databaseUrl,
      '--rate',
      '10',
      '--duration',
      '2',
    ]);
    expect(await simulator.exited, simulator.output()).toBe(0);
    const committed = Number(
      /^done: (\d+) transaction\(s\) committed/m.exec(simulator.output())?.[1],
    );
    expect(committed, simulator.output()).toBeGreaterThan(0);

    await waitFor(
      () => subscriber.versions().some((line) => line.version > first.version),
      LIVE_TIMEOUT_MS,
    );
    expect(await subscriber.interrupt(), subscriber.output()).toBe(0);
  });

  it('simulate-writes.ts with no flags writes to the embedded PostgreSQL of npm start', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'consultator-demo-'));
    dispose.add(() => rm(folder, { recursive: true, force: true }));
    // As root the cluster runs as the postgres user, who must reach its data.
    await chmod(folder, 0o755);
    // The API and the simulator see the same setting, as from one shell.
    const demoEnv = { EMBEDDED_PG_DIR: path.join(folder, 'postgres') };
    const api = await spawnEntryPoint({
      env: { ...demoEnv, HOME: folder, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' },
      disposer: dispose,
      // initdb, the server's first start and the demo data, on a busy machine.
      readyTimeoutMs: 240_000,
    });
    const subscriber = runExample(dispose, 'subscribe-stats.ts', ['--url', api.graphqlUrl]);
    const first = await firstVersion(subscriber);

    const simulator = runExample(dispose, 'simulate-writes.ts', [], demoEnv);
    await waitFor(
      () => subscriber.versions().some((line) => line.version > first.version),
      LIVE_TIMEOUT_MS,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nsimulator:\n${simulator.output()}`);
    });
    expect(await simulator.interrupt(), simulator.output()).toBe(0);
    expect(simulator.output()).toMatch(
      /simulating 5 transaction\(s\)\/s on postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/consultator until Ctrl-C/,
    );
    expect(await subscriber.interrupt(), subscriber.output()).toBe(0);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  }, 300_000);
});
