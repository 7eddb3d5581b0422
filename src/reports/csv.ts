import type { UtilizationRow } from '../db/queries/reports.js';

/** What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * RFC 4180: quote a field that holds a quote, comma or line break; double
 * its quotes. Text a spreadsheet would evaluate (a practice named
 * `=HYPERLINK(…)`) is neutralised as OWASP says: prefixed with a single
 * quote, and quoted. Numbers are ours, never text: a negative one stays a number.
 */
function field(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) {
    return `"'${text.replaceAll('"', '""')}"`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const UTILIZATION_CSV_HEADER = [
  'key',
  'consultants',
  'staffed_days',
  'available_days',
  'utilization_rate',
  'revenue',
] as const;

/** The utilization rows as CSV, the same values and order as the GraphQL rows. */
export function utilizationCsv(
  rows: readonly UtilizationRow[],
  rate: (row: UtilizationRow) => number | null,
): string {
  const lines = [UTILIZATION_CSV_HEADER.join(',')];
  for (const row of rows) {
    lines.push(
      [row.key, row.consultants, row.staffedDays, row.availableDays, rate(row), row.revenue]
        .map(field)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
