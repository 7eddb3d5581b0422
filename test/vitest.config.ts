import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Every test file runs against a real PostgreSQL (see test/support/global-setup.ts)
 * in a database of its own, so files run in parallel in separate processes.
 * The work is mostly waiting on the server, so even a 2-core machine runs
 * two files at a time.
 */
const require = createRequire(import.meta.url);

export default defineConfig({
  // This file lives in test/ to keep the top level to the project's fixed layout.
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: {
    alias: [
      // graphql 16 ships CJS (`main`) and ESM (`module`) builds. Node resolves
      // `graphql` to the CJS one for yoga, Pothos and graphql-scalars, but Vite
      // would hand src/ the ESM one: two GraphQLError classes, and every
      // `instanceof GraphQLError` in src/ fails under test only. One copy for all.
      { find: /^graphql$/, replacement: require.resolve('graphql') },
    ],
  },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: Math.max(2, Math.min(4, os.availableParallelism())),
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Failures show the whole object diff, not an ellipsis.
    chaiConfig: { truncateThreshold: 0 },
    reporters: ['default'],
  },
});
