import type { UtilizationGroupBy, UtilizationRow } from '../../db/queries/reports.js';
import type { UtilizationReport } from '../../reports/report-service.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { isIsoDate } from '../pagination.js';

/** Longest period a report may cover. */
const MAX_PERIOD_DAYS = 3_660;

export const UtilizationGroupByEnum = builder.enumType('UtilizationGroupBy', {
  values: {
    PRACTICE: { description: 'One row per practice.' },
    SKILL: { description: 'One row per skill (a consultant counts in each of their skills).' },
    MONTH: { description: 'One row per calendar month of the period.' },
  } as const,
});

const UtilizationRowRef = builder.objectRef<UtilizationRow>('UtilizationRow').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Practice name, skill name or YYYY-MM.' }),
    consultants: t.exposeInt('consultants'),
    staffedDays: t.exposeInt('staffedDays', {
      description: 'Calendar days of planned, active or completed missions inside the period.',
    }),
    availableDays: t.exposeInt('availableDays', {
      description: 'Consultants × calendar days of the period (of the month, by month).',
    }),
    utilizationRate: t.float({
      nullable: true,
      description: 'staffedDays / availableDays; null when nobody was available.',
      resolve: (row) => utilizationRate(row),
    }),
    revenue: t.float({
      description: 'Staffed days × mission daily rate, in euros.',
      resolve: (row) => row.revenue,
    }),
  }),
});

export function utilizationRate(row: UtilizationRow): number | null {
  return row.availableDays > 0 ? row.staffedDays / row.availableDays : null;
}

const UtilizationReportRef = builder.objectRef<UtilizationReport>('UtilizationReport').implement({
  description: 'Staffing utilization over a period, cached by parameters and data version.',
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    groupBy: t.field({ type: UtilizationGroupByEnum, resolve: (report) => report.groupBy }),
    rows: t.field({ type: [UtilizationRowRef], resolve: (report) => report.rows }),
    cacheHit: t.exposeBoolean('cacheHit', {
      description: 'Served from the report cache rather than computed for this request.',
    }),
    computedAt: t.expose('computedAt', { type: 'DateTime' }),
    dataVersion: t.exposeString('dataVersion', {
      description: 'Version of the underlying data it was computed from.',
    }),
  }),
});

/** Validates report parameters (shared by GraphQL and the CSV route). */
export function checkUtilizationParams(
  from: unknown,
  to: unknown,
  groupBy: unknown,
): { from: string; to: string; groupBy: UtilizationGroupBy } {
  if (!isIsoDate(from)) throw badUserInput('"from" must be a date (YYYY-MM-DD)', 'from');
  if (!isIsoDate(to)) throw badUserInput('"to" must be a date (YYYY-MM-DD)', 'to');
  if (from > to) throw badUserInput('"from" must not be after "to"', 'from');
  const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
  if (days > MAX_PERIOD_DAYS) {
    throw badUserInput(`the period must be at most ${MAX_PERIOD_DAYS} days`, 'to');
  }
  if (groupBy !== 'PRACTICE' && groupBy !== 'SKILL' && groupBy !== 'MONTH') {
    throw badUserInput('"groupBy" must be PRACTICE, SKILL or MONTH', 'groupBy');
  }
  return { from, to, groupBy };
}

builder.queryField('utilizationReport', (t) =>
  t.field({
    type: UtilizationReportRef,
    description:
      'Utilization per practice, skill or month over [from, to]. Cached in the database until the data changes (or for REPORT_CACHE_TTL_DAYS); forceRefresh recomputes. Also as CSV: GET /reports/utilization.csv?from=&to=&groupBy=.',
    args: {
      from: t.arg({ type: 'Date', required: true }),
      to: t.arg({ type: 'Date', required: true }),
      groupBy: t.arg({ type: UtilizationGroupByEnum, required: true }),
      forceRefresh: t.arg.boolean({ defaultValue: false, required: true }),
    },
    resolve: (_root, args, { services }) =>
      services.reports.utilization(checkUtilizationParams(args.from, args.to, args.groupBy), {
        forceRefresh: args.forceRefresh,
      }),
  }),
);
