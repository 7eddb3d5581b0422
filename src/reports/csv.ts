import type { UtilizationRow } from '../db/queries/reports.js';

// RFC 4180: quote a field that holds a quote, comma or line break; double its quotes.
function field(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
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
