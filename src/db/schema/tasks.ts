import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  jsonb,
  pgEnum,
  pgTable,
  real,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const taskStatusEnum = pgEnum('task_status', ['RUNNING', 'SUCCEEDED', 'FAILED']);

/** Background jobs (a full stats rebuild, ...): their state outlives the process that ran them. */
export const tasks = pgTable(
  'tasks',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    kind: text('kind').notNull(),
    status: taskStatusEnum('status').notNull(),
    /** 0 to 1. */
    progress: real('progress').notNull().default(0),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    createdBy: text('created_by').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    // One running task per kind, whichever instance started it: the second
    // INSERT fails on this index instead of racing a check.
    uniqueIndex('tasks_one_running_per_kind').on(t.kind).where(sql`${t.status} = 'RUNNING'`),
    index('tasks_started_at_id_idx').on(t.startedAt, t.id),
    index('tasks_finished_at_idx').on(t.finishedAt),
    check('tasks_progress_range', sql`${t.progress} BETWEEN 0 AND 1`),
  ],
);

export type TaskRow = typeof tasks.$inferSelect;
export type TaskStatus = TaskRow['status'];
