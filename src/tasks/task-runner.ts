import { drizzle } from 'drizzle-orm/node-postgres';
import { createPubSub } from 'graphql-yoga';
import type pg from 'pg';
import type { Database } from '../db/client.js';
import {
  deleteFinishedTasks,
  failOrphanedTasks,
  finishTask,
  releaseTaskLock,
  setTaskProgress,
  startTask,
} from '../db/queries/tasks.js';
import type { TaskRow } from '../db/schema/index.js';
import type { Logger } from '../logger.js';
import { rebuildStatsSummary, verifyStatsSummary } from '../stats/maintenance.js';

export const REBUILD_STATS = 'REBUILD_STATS';
export const INTERRUPTED_AT_START = 'interrupted: the server running it stopped before it finished';
export const INTERRUPTED_AT_STOP = 'interrupted: the server was stopped';

export type StartOutcome =
  | { started: true; task: TaskRow }
  | { started: false; running: TaskRow | undefined };

export interface TaskRunner {
  /** Starts a full stats rebuild in the background; refused while one runs (on any instance). */
  startStatsRebuild(actor: string): Promise<StartOutcome>;
  /**
   * Updates of one task published by this instance, until it ends. In
   * process only: a task another instance runs reaches its own subscribers.
   */
  updates(taskId: number): AsyncIterableIterator<TaskRow>;
  /** At start: fails tasks left RUNNING by a dead process, deletes old finished ones. */
  recover(): Promise<{ interrupted: number; deleted: number }>;
  /** Cancels what runs, marks it failed (interrupted) and waits for it to unwind. */
  stop(): Promise<void>;
  /** Tasks running in this process. */
  readonly running: number;
}

export interface TaskRunnerOptions {
  pool: pg.Pool;
  db: Database;
  log: Logger;
  retentionMs: number;
}

interface ActiveTask {
  task: TaskRow;
  backendPid: number | undefined;
  done: Promise<void>;
}

/**
 * Runs long jobs off the request path on a connection of their own, with
 * their state in the `tasks` table so that it outlives the process. The
 * runner holds a session advisory lock per running task: that is how
 * another instance, or this one after a crash, tells a live task from one
 * whose process died.
 */
export function createTaskRunner(options: TaskRunnerOptions): TaskRunner {
  const { pool, db, log } = options;
  const pubsub = createPubSub<{ taskUpdated: [taskId: number, task: TaskRow] }>();
  const active = new Map<number, ActiveTask>();
  let stopping = false;

  function publish(task: TaskRow | undefined): void {
    if (task) pubsub.publish('taskUpdated', task.id, task);
  }

  async function runRebuild(client: pg.PoolClient, entry: ActiveTask): Promise<void> {
    const { task } = entry;
    const clientDb = drizzle(client);
    try {
      const pid = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      entry.backendPid = pid.rows[0]?.pid;
      // stop() may have come before the pid was known: it could not cancel us.
      if (stopping) throw new Error('stopping');
      // A rebuild at ten million missions outlasts the request timeout.
      await client.query('SET statement_timeout = 0');
      publish(await setTaskProgress(clientDb, task.id, 0.05));
      const rebuilt = await rebuildStatsSummary(client);
      publish(await setTaskProgress(clientDb, task.id, 0.6));
      if (stopping) throw new Error('stopping');
      const verified = await verifyStatsSummary(client);
      publish(
        await finishTask(clientDb, task.id, {
          status: 'SUCCEEDED',
          result: {
            version: rebuilt.version,
            discardedDeltas: rebuilt.discardedDeltas,
            verified: verified.ok,
            differences: verified.differences.slice(0, 20),
          },
        }),
      );
      log.info({ taskId: task.id, version: rebuilt.version }, 'stats rebuild finished');
    } catch (error) {
      if (stopping) {
        log.warn({ taskId: task.id }, 'stats rebuild interrupted by shutdown');
        return;
      }
      log.error({ err: error, taskId: task.id }, 'stats rebuild failed');
      try {
        publish(
          await finishTask(db, task.id, {
            status: 'FAILED',
            error: 'the rebuild failed (see the server log)',
          }),
        );
      } catch (recordError) {
        // Nobody awaits a running task: a rejection here would be unhandled
        // and end the process. The row stays RUNNING with its lock released
        // below, so the next recover() fails it as orphaned.
        log.error({ err: recordError, taskId: task.id }, 'could not record the failed rebuild');
      }
    } finally {
      let broken: Error | undefined;
      try {
        await client.query('RESET statement_timeout');
        await releaseTaskLock(client, task.id);
      } catch (error) {
        // A connection in an unknown state must not go back to the pool.
        broken = error as Error;
      }
      client.release(broken);
    }
  }

  return {
    async startStatsRebuild(actor) {
      if (stopping) throw new Error('the task runner is stopping');
      // Opportunistic clean-up: a running instance also forgets old tasks.
      await deleteFinishedTasks(db, options.retentionMs);
      const client = await pool.connect();
      let outcome: StartOutcome;
      try {
        outcome = await startTask(
          client,
          { kind: REBUILD_STATS, params: {}, createdBy: actor },
          {
            actor,
            operation: 'rebuildStats',
            resourceType: 'Task',
            details: { kind: REBUILD_STATS },
          },
        );
      } catch (error) {
        client.release(error as Error);
        throw error;
      }
      if (!outcome.started) {
        client.release();
        return outcome;
      }
      const entry: ActiveTask = {
        task: outcome.task,
        backendPid: undefined,
        done: Promise.resolve(),
      };
      entry.done = runRebuild(client, entry).finally(() => active.delete(outcome.task.id));
      active.set(outcome.task.id, entry);
      return outcome;
    },

    updates(taskId) {
      return pubsub
        .subscribe('taskUpdated', taskId)
        [Symbol.asyncIterator]() as AsyncIterableIterator<TaskRow>;
    },

    async recover() {
      const failed = await failOrphanedTasks(pool, INTERRUPTED_AT_START);
      const deleted = await deleteFinishedTasks(db, options.retentionMs);
      if (failed.length > 0) {
        log.warn(
          { tasks: failed.map((task) => task.id) },
          'tasks interrupted by a stop were marked failed',
        );
      }
      return { interrupted: failed.length, deleted };
    },

    async stop() {
      stopping = true;
      await Promise.all(
        [...active.values()].map(async (entry) => {
          try {
            publish(
              await finishTask(db, entry.task.id, { status: 'FAILED', error: INTERRUPTED_AT_STOP }),
            );
            if (entry.backendPid !== undefined) {
              await pool.query('SELECT pg_cancel_backend($1)', [entry.backendPid]);
            }
          } catch (error) {
            log.warn({ err: error, taskId: entry.task.id }, 'could not interrupt a task cleanly');
          }
          await entry.done;
        }),
      );
    },

    get running() {
      return active.size;
    },
  };
}
