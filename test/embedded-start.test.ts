import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCheckout } from './support/checkout.js';
import { disposeAfterEach } from './support/dispose.js';
import { runEntryPointToExit, spawnEntryPoint } from './support/entry-point.js';

const dispose = disposeAfterEach();
const isRoot = os.userInfo().uid === 0;

/** A folder only its owner can enter, as `mktemp -d` or a home directory makes it. */
async function privateFolder(prefix: string): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), prefix));
  dispose.add(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

const FIRST_QUERY = JSON.stringify({
  query: `query Consultants {
    consultants(first: 10, orderBy: { field: LAST_NAME, direction: ASC }) {
      totalCount
      edges { node { fullName practice { name } } }
    }
  }`,
});

describe('npm start with the embedded PostgreSQL', () => {
  if (!isRoot) {
    console.info(
      'embedded-start: skipping the start from a 0700 folder: it needs root (the cluster then runs as the postgres user)',
    );
  }

  it.skipIf(!isRoot)(
    'starts as root from a checkout in a 0700 folder, serves the first query, and stops cleanly',
    async () => {
      const home = await privateFolder('consultator-home-');
      const checkout = path.join(home, 'checkout');
      await makeCheckout(checkout, { copyBinaries: true });
      const runtimeDir = await privateFolder('consultator-runtime-');
      await chmod(runtimeDir, 0o755);

      const server = await spawnEntryPoint({
        cwd: checkout,
        disposer: dispose,
        env: {
          HOME: home,
          HOST: '127.0.0.1',
          PORT: '0',
          LOG_LEVEL: 'info',
          EMBEDDED_PG_RUNTIME_DIR: runtimeDir,
        },
        // initdb, the server's first start and the demo data, on a busy machine.
        readyTimeoutMs: 240_000,
      });
      const response = await fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: FIRST_QUERY,
      });
      const body = await response.json();
      expect(body.errors).toBeUndefined();
      expect(body.data.consultants.totalCount).toBe(1000);
      expect(body.data.consultants.edges).toHaveLength(10);

      // The data moved where the postgres user can reach it, and the checkout links to it.
      const dataDir = path.join(checkout, '.data', 'postgres');
      const target = await readlink(dataDir);
      expect(path.dirname(target)).toBe(runtimeDir);
      expect(existsSync(path.join(target, 'PG_VERSION'))).toBe(true);
      const copies = (await readdir(runtimeDir)).filter((entry) => entry.startsWith('postgresql-'));
      expect(copies).toHaveLength(1);

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // The server is gone with the API: its lock file is removed at shutdown.
      expect(existsSync(path.join(target, 'postmaster.pid'))).toBe(false);
    },
    300_000,
  );

  it('fails to start in one line naming the cause and the fix, exit code 1, no stack', async () => {
    const folder = await privateFolder('consultator-taken-');
    // The cluster's user must reach its data folder when this runs as root.
    await chmod(folder, 0o755);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    dispose.add(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const { port } = taken.address() as net.AddressInfo;

    const { code, stdout, stderr } = await runEntryPointToExit({
      env: {
        HOME: folder,
        PORT: '0',
        EMBEDDED_PG_DIR: path.join(folder, 'pgdata'),
        EMBEDDED_PG_PORT: String(port),
      },
      timeoutMs: 120_000,
    });
    const lines = stderr.split('\n').filter((line) => line.trim() !== '');
    expect(code, `stderr:\n${stderr}`).toBe(1);
    expect(lines, `stderr:\n${stderr}`).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`port ${port} is taken`));
    expect(lines[0]).toContain('EMBEDDED_PG_PORT');
    expect(stderr).not.toMatch(/\bat .*:\d+:\d+/);
    expect(stdout).toBe('');
  }, 150_000);
});
