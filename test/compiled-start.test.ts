import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCheckout } from './support/checkout.js';
import { disposeAfterEach } from './support/dispose.js';

const dispose = disposeAfterEach();

/** `npm run token` as package.json spells it: the compiled CLI through the launcher. */
function token(checkout: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['src/cli/start.mjs', 'token', '--role', 'admin'],
      {
        cwd: checkout,
        env: { PATH: process.env.PATH, JWT_SECRET: 'x'.repeat(40) },
        timeout: 120_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the compiled start', () => {
  it('builds dist/ on first use, reuses it, and rebuilds when a source changes (a git pull)', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'consultator-build-'));
    dispose.add(() => rm(folder, { recursive: true, force: true }));
    await makeCheckout(folder);
    const jwt = /^ey[\w-]+\.[\w-]+\.[\w-]+$/;

    const first = await token(folder);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/compiling src\/ to dist\//);
    expect(first.stdout.trim()).toMatch(jwt);

    const second = await token(folder);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toBe('');
    expect(second.stdout.trim()).toMatch(jwt);

    // What a pull that changes the CLI does: the next run serves the new code, not the old build.
    const source = path.join(folder, 'src', 'cli', 'token.ts');
    const original = await readFile(source, 'utf8');
    const changed = original.replace('process.stdout.write(`', 'process.stdout.write(`Bearer ');
    expect(changed).not.toBe(original);
    await writeFile(source, changed);
    const third = await token(folder);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/compiling src\/ to dist\//);
    expect(third.stdout.trim()).toMatch(/^Bearer ey/);
  }, 300_000);
});
