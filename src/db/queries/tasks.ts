import { and, count, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { type TaskRow, type TaskStatus, tasks } from '../schema/index.js';
import { type AuditEntry, insertAuditLog } from './audit.js';
import type { Executor } from './executor.js';
import type { PageResult } from './keyset.js';

/**
 * First key of the session-level advisory lock a runner holds while it runs
 * a task, `(TASK_LOCK_CLASS, task id)`. A RUNNING task whose lock nobody
 * holds was left behind by a process that died: any instance may fail it,
 * while a task another live instance runs is left alone.
 */
const TASK_LOCK_CLASS = 7_312_010;
const lockKey = (id: number) => id % 2_147_483_647;

export type StartTaskOutcome =
  | { started: true; task: TaskRow }
  | { started: false; running: TaskRow | undefined };

/**
 * Creates a RUNNING task on `client`, which then holds the task's lock until
 * {@link releaseTaskLock}, and its audit row in the same transaction. The
 * lock is taken before the row exists, so no instance can see the row
 * unlocked. Refused (not thrown) when a task of that kind is running: the
 * partial unique index decides, whichever instance asked.
 */
export async function startTask(
  client: pg.PoolClient,
  task: { kind: string; params: Record<string, unknown>; createdBy: string },
  audit: Omit<AuditEntry, 'success' | 'resourceId'>,
): Promise<StartTaskOutcome> {
  const {
    rows: [next],
  } = await client.query<{ id: string }>(
    `SELECT nextval(pg_get_serial_sequence('tasks', 'id'))::text AS id`,
  );
  const id = Number(next?.id);
  await client.query('SELECT pg_advisory_lock($1, $2)', [TASK_LOCK_CLASS, lockKey(id)]);
  const db = drizzle(client);
  try {
    const row = await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(tasks)
        .values({ id, ...task, status: 'RUNNING' })
        .onConflictDoNothing({
          target: tasks.kind,
          where: sql`${tasks.status} = 'RUNNING'`,
        })
        .returning();
      if (inserted) {
        await insertAuditLog(tx, { ...audit, resourceId: String(id), success: true });
      }
      return inserted;
    });
    if (row) return { started: true, task: row };
  } catch (error) {
    await releaseTaskLock(client, id);
    throw error;
  }
  await releaseTaskLock(client, id);
  const [running] = await db
    .select()
    .from(tasks)
    .where(and(eq(tasks.kind, task.kind), eq(tasks.status, 'RUNNING')));
  return { started: false, running };
}

export async function releaseTaskLock(client: pg.PoolClient, id: number): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, $2)', [TASK_LOCK_CLASS, lockKey(id)]);
}

/** Moves a running task's progress; a task no longer RUNNING is left as is. */
export async function setTaskProgress(
  db: Executor,
  id: number,
  progress: number,
): Promise<TaskRow | undefined> {
  const [row] = await db
    .update(tasks)
    .set({ progress, updatedAt: sql`now()` })
    .where(and(eq(tasks.id, id), eq(tasks.status, 'RUNNING')))
    .returning();
  return row;
}

/** Ends a running task; one that already ended (e.g. marked interrupted) keeps its outcome. */
export async function finishTask(
  db: Executor,
  id: number,
  outcome:
    | { status: 'SUCCEEDED'; result: Record<string, unknown> }
    | { status: 'FAILED'; error: string },
): Promise<TaskRow | undefined> {
  const [row] = await db
    .update(tasks)
    .set({
      status: outcome.status,
      progress: outcome.status === 'SUCCEEDED' ? 1 : sql`${tasks.progress}`,
      result: outcome.status === 'SUCCEEDED' ? outcome.result : null,
      error: outcome.status === 'FAILED' ? outcome.error : null,
      finishedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(tasks.id, id), eq(tasks.status, 'RUNNING')))
    .returning();
  return row;
}

/**
 * Fails every RUNNING task whose runner is gone (its lock is free), on one
 * dedicated connection since advisory locks belong to a session. Run at
 * start: this instance runs nothing yet, and live instances hold the locks
 * of what they run.
 */
export async function failOrphanedTasks(pool: pg.Pool, error: string): Promise<TaskRow[]> {
  const client = await pool.connect();
  try {
    // MATERIALIZED: the lock function must see RUNNING rows only.
    const orphans = await client.query<{ id: string }>(
      `WITH running AS MATERIALIZED (SELECT id FROM tasks WHERE status = 'RUNNING')
       SELECT id::text AS id FROM running
       WHERE pg_try_advisory_lock($1, (id % 2147483647)::int)`,
      [TASK_LOCK_CLASS],
    );
    const failed: TaskRow[] = [];
    const db = drizzle(client);
    for (const { id } of orphans.rows) {
      const row = await finishTask(db, Number(id), { status: 'FAILED', error });
      if (row) failed.push(row);
      await releaseTaskLock(client, Number(id));
    }
    return failed;
  } finally {
    client.release();
  }
}

/** Deletes finished tasks older than `retentionMs`; returns how many. */
export async function deleteFinishedTasks(db: Executor, retentionMs: number): Promise<number> {
  const rows = await db
    .delete(tasks)
    .where(
      and(
        sql`${tasks.status} <> 'RUNNING'`,
        lt(tasks.finishedAt, sql`now() - make_interval(secs => ${retentionMs / 1000})`),
      ),
    )
    .returning({ id: tasks.id });
  return rows.length;
}

export async function findTask(db: Executor, id: number): Promise<TaskRow | undefined> {
  const [row] = await db.select().from(tasks).where(eq(tasks.id, id));
  return row;
}

export interface TaskFilter {
  kind?: string | null;
  status?: TaskStatus | null;
}

function taskConditions(filter: TaskFilter): SQL[] {
  const where: SQL[] = [];
  if (filter.kind != null) where.push(eq(tasks.kind, filter.kind));
  if (filter.status != null) where.push(eq(tasks.status, filter.status));
  return where;
}

export async function countTasks(db: Executor, filter: TaskFilter): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(tasks)
    .where(and(...taskConditions(filter)));
  return row?.n ?? 0;
}

/** Newest first; `afterId` is the last id of the previous page. */
export async function pageTasks(
  db: Executor,
  filter: TaskFilter,
  limit: number,
  afterId: number | null,
): Promise<PageResult<TaskRow>> {
  const where = taskConditions(filter);
  if (afterId !== null) where.push(lt(tasks.id, afterId));
  const rows = await db
    .select()
    .from(tasks)
    .where(and(...where))
    .orderBy(desc(tasks.id))
    .limit(limit + 1);
  return {
    rows: rows.slice(0, limit),
    hasNextPage: rows.length > limit,
    hasPreviousPage: afterId !== null,
  };
}
