import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderSchema, schemaFile } from '../src/cli/print-schema.js';

describe('schema/schema.graphql', () => {
  it('matches the schema the code builds', async () => {
    const checkedIn = await readFile(schemaFile, 'utf8').catch(() => '');
    expect(
      renderSchema() === checkedIn,
      'schema/schema.graphql is out of date (or missing): run `npm run schema:print` and commit the result',
    ).toBe(true);
    // On failure, the diff shows what changed.
    expect(checkedIn).toBe(renderSchema());
  });
});
