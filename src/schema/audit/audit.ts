import {
  type AuditFilter,
  auditStats,
  countAuditLogs,
  pageAuditLogs,
} from '../../db/queries/audit.js';
import type { AuditLogRow } from '../../db/schema/index.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { encodeCursor, isInteger, pageWindow, toConnection } from '../pagination.js';

const AUDIT_SORT_KEY = 'AUDIT_ID';

const AuditLog = builder.objectRef<AuditLogRow>('AuditLog').implement({
  description: 'One mutation attempt: refused, failed or written.',
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.expose('at', { type: 'DateTime' }),
    actor: t.exposeString('actor', {
      description: 'Token subject or API key name; "anonymous" without one.',
    }),
    operation: t.exposeString('operation', {
      description: 'The mutation field, e.g. createConsultant.',
    }),
    resourceType: t.exposeString('resourceType'),
    resourceId: t.exposeString('resourceId', {
      nullable: true,
      description: 'Database id of the record, when known.',
    }),
    success: t.exposeBoolean('success'),
    details: t.field({
      type: 'JSON',
      description: 'A summary: changed fields, ids, the error code of a failure. Never secrets.',
      resolve: (row) => row.details,
    }),
  }),
});

const AuditLogFilter = builder.inputType('AuditLogFilter', {
  fields: (t) => ({
    actor: t.string(),
    operation: t.string(),
    resourceType: t.string(),
    success: t.boolean(),
    from: t.field({ type: 'DateTime', description: 'At or after this instant.' }),
    to: t.field({ type: 'DateTime', description: 'At or before this instant.' }),
  }),
});

const AuditStat = builder
  .objectRef<{ operation: string; success: boolean; count: number }>('AuditStat')
  .implement({
    fields: (t) => ({
      operation: t.exposeString('operation'),
      success: t.exposeBoolean('success'),
      count: t.exposeInt('count'),
    }),
  });

function toFilter(
  input: { [K in keyof AuditFilter]?: AuditFilter[K] | null } | null | undefined,
): AuditFilter {
  const filter: AuditFilter = { ...input };
  if (filter.from && filter.to && filter.from > filter.to) {
    throw badUserInput('"filter.from" must not be after "filter.to"', 'filter.from');
  }
  return filter;
}

const isPositiveId = (value: unknown): value is number => isInteger(value) && (value as number) > 0;

builder.queryFields((t) => ({
  auditLogs: t.connection({
    type: AuditLog,
    authScopes: { admin: true },
    description: 'Mutation attempts, newest first (admins only). Pages forward with first/after.',
    args: { filter: t.arg({ type: AuditLogFilter }) },
    resolve: async (_root, args, { services }) => {
      if (args.last != null || args.before != null) {
        throw badUserInput('auditLogs pages forward only: use first and after', 'last');
      }
      const window = pageWindow(args, AUDIT_SORT_KEY, isPositiveId);
      const filter = toFilter(args.filter);
      const page = await pageAuditLogs(services.db, filter, window.limit, window.after?.id ?? null);
      return {
        ...toConnection(page, (row) => encodeCursor(AUDIT_SORT_KEY, row.id, row.id)),
        totalCount: () => countAuditLogs(services.db, filter),
      };
    },
  }),
  auditStats: t.field({
    type: [AuditStat],
    authScopes: { admin: true },
    description: 'Attempts per operation and outcome (admins only).',
    args: { filter: t.arg({ type: AuditLogFilter }) },
    resolve: (_root, args, { services }) => auditStats(services.db, toFilter(args.filter)),
  }),
}));
