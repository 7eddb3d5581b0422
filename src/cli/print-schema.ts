import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { printableSchema } from '../schema/index.js';

export const schemaFile = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../schema/schema.graphql',
);

/** The SDL as checked in: types sorted so diffs show real changes only. */
export function renderSchema(): string {
  return `${printSchema(printableSchema())}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(schemaFile, renderSchema());
  process.stdout.write(`wrote ${path.relative(process.cwd(), schemaFile)}\n`);
}
