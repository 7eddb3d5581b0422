import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configDocFile, renderConfigDoc } from '../src/cli/config-doc.js';
import { settings } from '../src/config.js';

describe('docs/configuration.md', () => {
  it('matches the settings declared in src/config.ts', async () => {
    const checkedIn = await readFile(configDocFile, 'utf8').catch(() => '');
    expect(
      renderConfigDoc() === checkedIn,
      'docs/configuration.md is out of date (or missing): run `npm run docs:config` and commit the result',
    ).toBe(true);
    // On failure, the diff shows what changed.
    expect(checkedIn).toBe(renderConfigDoc());
  });

  it('documents every setting with its accepted values and default', () => {
    const doc = renderConfigDoc();
    for (const name of Object.keys(settings)) {
      expect(doc, name).toMatch(
        new RegExp(`^\\| \`${name}\` \\| [^|]+ \\| [^|]+ \\| .+ \\|$`, 'm'),
      );
    }
    expect(doc).toContain('| `PORT` | integer 0–65535 | `4000` |');
    expect(doc).toContain('| `CHANGE_DETECTION` | `notify`, `poll`, `auto` | `auto` |');
    expect(doc).toContain('| `DATABASE_POOL_MAX` | integer ≥ 1 | `10` |');
  });
});
