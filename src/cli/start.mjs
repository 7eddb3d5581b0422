/**
 * What `npm start` runs: rebuilds dist/ if the sources changed since the last
 * build (see build.mjs), then runs the compiled entry point in this same
 * process, so signals reach the server directly.
 *
 *   node src/cli/start.mjs [entry] [args...]   entry: a module of dist/, `main` by default
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir, ensureBuilt } from './build.mjs';

const [, , requested] = process.argv;
const entry = requested && !requested.startsWith('-') ? requested : 'main';
const entryFile = path.join(distDir, `${entry}.js`);

try {
  await ensureBuilt({
    onBuild: () => process.stderr.write('compiling src/ to dist/ (the sources changed)\n'),
  });
} catch {
  // esbuild has printed what is wrong, with its location, just above.
  process.stderr.write('the build failed (see above): fix the sources, or run npm run dev\n');
  process.exit(1);
}
process.setSourceMapsEnabled(true);
// The entry sees the command line it would have had if run directly.
process.argv.splice(1, entry === requested ? 2 : 1, entryFile);
await import(pathToFileURL(entryFile).href);
