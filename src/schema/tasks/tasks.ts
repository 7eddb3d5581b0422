import { recordFailedAttempt } from '../../audit/audited-write.js';
import { countTasks, findTask, pageTasks } from '../../db/queries/tasks.js';
import type { TaskRow } from '../../db/schema/index.js';
import { adminOnly } from '../audit/mutation.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { encodeCursor, isInteger, pageWindow, toConnection } from '../pagination.js';
import { MutationError } from '../validation.js';

const TASK_SORT_KEY = 'TASK_ID';

const TaskStatusEnum = builder.enumType('TaskStatus', {
  values: {
    RUNNING: { description: 'Under way (progress moves from 0 to 1).' },
    SUCCEEDED: { description: 'Finished; see result.' },
    FAILED: { description: 'Failed or interrupted by a stop; see error.' },
  } as const,
});

export const Task = builder.objectRef<TaskRow>('Task').implement({
  description: 'A background job. Its state is kept in the database and outlives restarts.',
  fields: (t) => ({
    id: t.id({ resolve: (task) => String(task.id) }),
    kind: t.exposeString('kind', { description: 'E.g. REBUILD_STATS.' }),
    status: t.field({ type: TaskStatusEnum, resolve: (task) => task.status }),
    progress: t.exposeFloat('progress', { description: '0 to 1.' }),
    params: t.field({ type: 'JSON', resolve: (task) => task.params }),
    result: t.field({ type: 'JSON', nullable: true, resolve: (task) => task.result }),
    error: t.exposeString('error', { nullable: true }),
    createdBy: t.exposeString('createdBy'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

class TaskAlreadyRunningError extends Error {
  override name = 'TaskAlreadyRunningError';
  constructor(readonly task: TaskRow | undefined) {
    super('A task of this kind is already running.');
  }
}

builder.objectType(TaskAlreadyRunningError, {
  name: 'TaskAlreadyRunningError',
  interfaces: [MutationError],
  isTypeOf: (value) => value instanceof TaskAlreadyRunningError,
  fields: (t) => ({
    task: t.field({
      type: Task,
      nullable: true,
      description: 'The running task (null if it ended meanwhile).',
      resolve: (error) => error.task ?? null,
    }),
  }),
});

const RebuildStatsPayload = builder.objectRef<{ task: TaskRow }>('RebuildStatsPayload').implement({
  fields: (t) => ({ task: t.field({ type: Task, resolve: (payload) => payload.task }) }),
});

function taskIdOf(id: string | number, argument = 'id'): number {
  const value = Number(id);
  if (!Number.isSafeInteger(value) || value <= 0 || String(value) !== String(id)) {
    throw badUserInput(`"${argument}" is not a valid task id`, argument);
  }
  return value;
}

const TaskFilter = builder.inputType('TaskFilter', {
  fields: (t) => ({
    kind: t.string(),
    status: t.field({ type: TaskStatusEnum }),
  }),
});

const isPositiveId = (value: unknown): value is number => isInteger(value) && (value as number) > 0;

builder.queryFields((t) => ({
  task: t.field({
    type: Task,
    nullable: true,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, { services }) =>
      findTask(services.db, taskIdOf(args.id)).then((row) => row ?? null),
  }),
  tasks: t.connection({
    type: Task,
    authScopes: { admin: true },
    description: 'Background tasks, newest first (admins only). Pages forward with first/after.',
    args: { filter: t.arg({ type: TaskFilter }) },
    resolve: async (_root, args, { services }) => {
      if (args.last != null || args.before != null) {
        throw badUserInput('tasks pages forward only: use first and after', 'last');
      }
      const window = pageWindow(args, TASK_SORT_KEY, isPositiveId);
      const page = await pageTasks(
        services.db,
        { kind: args.filter?.kind, status: args.filter?.status },
        window.limit,
        window.after?.id ?? null,
      );
      return {
        ...toConnection(page, (row) => encodeCursor(TASK_SORT_KEY, row.id, row.id)),
        totalCount: () =>
          countTasks(services.db, { kind: args.filter?.kind, status: args.filter?.status }),
      };
    },
  }),
}));

builder.mutationField('rebuildStats', (t) =>
  t.field({
    type: RebuildStatsPayload,
    description:
      'Recomputes the dashboard aggregates from the base tables in the background, then verifies them. Returns the task at once; follow it with task(id) or taskUpdated(id). One at a time.',
    authScopes: adminOnly('Task'),
    errors: { types: [TaskAlreadyRunningError] },
    resolve: async (_root, _args, context) => {
      const { services, viewer } = context;
      const actor = viewer?.actor ?? 'anonymous';
      const outcome = await services.tasks.startStatsRebuild(actor);
      if (outcome.started) return { task: outcome.task };
      await recordFailedAttempt(
        services,
        {
          actor,
          operation: 'rebuildStats',
          resourceType: 'Task',
          resourceId: outcome.running ? String(outcome.running.id) : null,
        },
        { error: 'ALREADY_RUNNING' },
      );
      throw new TaskAlreadyRunningError(outcome.running);
    },
  }),
);

const isFinished = (task: TaskRow) => task.status !== 'RUNNING';

builder.subscriptionField('taskUpdated', (t) =>
  t.field({
    type: Task,
    authScopes: { admin: true },
    description:
      'The task now, then each change of status or progress, ending when it finishes. Updates come from the instance running the task.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, { services }) => {
      const taskId = taskIdOf(args.id);
      // Subscribed before the first read, so no update falls in between.
      const updates = services.tasks.updates(taskId);
      return (async function* () {
        try {
          const current = await findTask(services.db, taskId);
          if (!current) throw badUserInput(`no task ${taskId}`, 'id');
          yield current;
          if (isFinished(current)) return;
          for await (const task of updates) {
            // Published between the subscription and the read: older than what was sent.
            if (task.updatedAt < current.updatedAt) continue;
            yield task;
            if (isFinished(task)) return;
          }
        } finally {
          await updates.return?.();
        }
      })();
    },
    resolve: (task) => task,
  }),
);
