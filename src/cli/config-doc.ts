import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type Setting, settingGroups, settings } from '../config.js';

export const configDocFile = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../docs/configuration.md',
);

const BOOLEAN_WORDS = ['0', '1', 'false', 'no', 'true', 'yes'];

interface InputSchema {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  minLength?: number;
}

/** The schema's input side (what the environment holds) as JSON Schema. */
function inputSchema(setting: Setting): InputSchema {
  return z.toJSONSchema(setting.schema, { io: 'input', unrepresentable: 'any' }) as InputSchema;
}

function code(value: unknown): string {
  return `\`${String(value)}\``;
}

function typeOf(setting: Setting, schema: InputSchema): string {
  if (setting.typeText) return setting.typeText;
  if (schema.enum) {
    const values = schema.enum.map(String);
    if ([...values].sort().join() === BOOLEAN_WORDS.join()) return 'boolean';
    return values.map(code).join(', ');
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const low =
      schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : schema.minimum;
    const high =
      schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER
        ? schema.maximum
        : undefined;
    if (low !== undefined && high !== undefined) return `integer ${low}–${high}`;
    if (low !== undefined) return `integer ≥ ${low}`;
    return 'integer';
  }
  if (schema.minLength !== undefined && schema.minLength > 1) {
    return `text, ${schema.minLength}+ characters`;
  }
  return 'text';
}

function defaultOf(setting: Setting): string {
  if (setting.defaultText) return setting.defaultText;
  // Read from the schema itself: JSON Schema drops a default that is of the output type (a boolean).
  const { def } = setting.schema;
  if (def.type === 'default') return code((def as z.core.$ZodDefaultDef).defaultValue);
  return '_(unset)_';
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** docs/configuration.md as generated from the settings declared in src/config.ts. */
export function renderConfigDoc(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config.ts by `npm run docs:config`; edit the settings there. -->',
    '',
    'Every setting is an environment variable, declared once and validated in',
    '`src/config.ts`, the only reader of the environment. A wrong value stops the',
    'process with one line naming the variable, and exit code 1. An empty value',
    'counts as unset. A boolean accepts `true`/`false`, `1`/`0` or `yes`/`no`.',
  ];
  for (const [group, title] of Object.entries(settingGroups)) {
    const entries = Object.entries(settings as Record<string, Setting>).filter(
      ([, setting]) => setting.group === group,
    );
    if (entries.length === 0) continue;
    lines.push(
      '',
      `## ${title}`,
      '',
      '| variable | accepts | default | meaning |',
      '|---|---|---|---|',
    );
    for (const [name, setting] of entries) {
      const schema = inputSchema(setting);
      const row = [code(name), typeOf(setting, schema), defaultOf(setting), setting.description];
      lines.push(`| ${row.map(cell).join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(configDocFile, renderConfigDoc());
  process.stdout.write(`wrote ${path.relative(process.cwd(), configDocFile)}\n`);
}
