import { findConsultant } from '../../db/queries/consultant-writes.js';
import {
  findMission,
  insertMission,
  type MissionPatch,
  updateMissionRow,
} from '../../db/queries/mission-writes.js';
import type { MissionRow } from '../../db/schema/index.js';
import { adminOnly, runAuditedMutation } from '../audit/mutation.js';
import { builder } from '../builder.js';
import { databaseIdOf, Problems, sentFields } from '../mutation-input.js';
import { checkDailyRate, checkText, ValidationError } from '../validation.js';
import { Mission, MissionStatus } from './mission.js';

const RESOURCE = 'Mission';

const MissionEndStatus = builder.enumType('MissionEndStatus', {
  values: {
    COMPLETED: { description: 'Ended as planned.' },
    CANCELLED: { description: 'Stopped before or during delivery.' },
  } as const,
});

/** A staffing mission is dated within these bounds: anything else is a typo, not a plan. */
const MISSION_FIRST_DATE = '1900-01-01';
const MISSION_LAST_DATE = '2199-12-31';

function checkMissionDate(problems: Problems, path: string[], date: string | null | undefined) {
  if (date != null && (date < MISSION_FIRST_DATE || date > MISSION_LAST_DATE)) {
    problems.add(
      path,
      'OUT_OF_RANGE',
      `must be between ${MISSION_FIRST_DATE} and ${MISSION_LAST_DATE}`,
    );
  }
}

function checkDatesInOrder(
  problems: Problems,
  startDate: string,
  endDate: string | null | undefined,
  path: string[],
): void {
  if (endDate != null && endDate < startDate) {
    problems.add(path, 'OUT_OF_RANGE', `must not be before the start date (${startDate})`);
  }
}

async function existingMission(
  problems: Problems,
  tx: Parameters<typeof findMission>[0],
  id: number | undefined,
) {
  problems.throwIfAny();
  const mission = await findMission(tx, id as number);
  if (!mission) problems.add(['input', 'id'], 'NOT_FOUND', 'no such mission');
  problems.throwIfAny();
  return mission as MissionRow;
}

function updated(mission: MissionRow | undefined): { mission: MissionRow } {
  // Deleted between the check and the update.
  if (!mission) {
    throw new ValidationError([
      { path: ['input', 'id'], code: 'NOT_FOUND', message: 'no such mission' },
    ]);
  }
  return { mission };
}

builder.relayMutationField(
  'createMission',
  {
    inputFields: (t) => ({
      consultantId: t.globalID({ required: true }),
      client: t.string({ required: true }),
      title: t.string({ required: true }),
      startDate: t.field({ type: 'Date', required: true }),
      endDate: t.field({ type: 'Date', description: 'Null or omitted: ongoing.' }),
      dailyRate: t.int({ required: true, description: 'In euros, 1 to 100000.' }),
      status: t.field({ type: MissionStatus, defaultValue: 'ACTIVE' }),
    }),
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) =>
      runAuditedMutation(
        context,
        {
          operation: 'createMission',
          resourceType: RESOURCE,
          details: { fields: sentFields(input) },
        },
        async (tx) => {
          const problems = new Problems();
          const path = ['input', 'consultantId'];
          const consultantId = databaseIdOf(problems, path, input.consultantId, 'Consultant');
          if (consultantId !== undefined && !(await findConsultant(tx, consultantId))) {
            problems.add(path, 'NOT_FOUND', 'no such consultant');
          }
          const client = checkText(problems, ['input', 'client'], input.client);
          const title = checkText(problems, ['input', 'title'], input.title);
          checkDailyRate(problems, ['input', 'dailyRate'], input.dailyRate);
          checkMissionDate(problems, ['input', 'startDate'], input.startDate);
          checkMissionDate(problems, ['input', 'endDate'], input.endDate);
          checkDatesInOrder(problems, input.startDate, input.endDate, ['input', 'endDate']);
          problems.throwIfAny();
          const mission = await insertMission(tx, {
            consultantId: consultantId as number,
            client,
            title,
            startDate: input.startDate,
            endDate: input.endDate ?? null,
            dailyRate: input.dailyRate,
            status: input.status ?? 'ACTIVE',
          });
          return { result: { mission }, resourceId: String(mission.id) };
        },
      ),
  },
  {
    outputFields: (t) => ({
      mission: t.field({ type: Mission, resolve: (payload) => payload.mission }),
    }),
  },
);

builder.relayMutationField(
  'updateMission',
  {
    inputFields: (t) => ({
      id: t.globalID({ required: true }),
      client: t.string(),
      title: t.string(),
      startDate: t.field({ type: 'Date' }),
      endDate: t.field({ type: 'Date', description: 'Omitted: unchanged; null: ongoing.' }),
      dailyRate: t.int(),
      status: t.field({ type: MissionStatus }),
    }),
    description: 'Omitted fields keep their value; so do null ones, except endDate.',
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) => {
      const problems = new Problems();
      const id = databaseIdOf(problems, ['input', 'id'], input.id, 'Mission');
      const fields = sentFields(input).filter((field) => field !== 'id');
      return runAuditedMutation(
        context,
        {
          operation: 'updateMission',
          resourceType: RESOURCE,
          resourceId: id === undefined ? null : String(id),
          details: { fields },
        },
        async (tx) => {
          const current = await existingMission(problems, tx, id);
          if (fields.length === 0) problems.add(['input'], 'INVALID', 'names no field to change');
          const patch: MissionPatch = {};
          if (input.client != null)
            patch.client = checkText(problems, ['input', 'client'], input.client);
          if (input.title != null)
            patch.title = checkText(problems, ['input', 'title'], input.title);
          if (input.dailyRate != null) {
            checkDailyRate(problems, ['input', 'dailyRate'], input.dailyRate);
            patch.dailyRate = input.dailyRate;
          }
          if (input.status != null) patch.status = input.status;
          if (input.startDate != null) patch.startDate = input.startDate;
          if (input.endDate !== undefined) patch.endDate = input.endDate;
          checkMissionDate(problems, ['input', 'startDate'], input.startDate);
          checkMissionDate(problems, ['input', 'endDate'], input.endDate);
          checkDatesInOrder(
            problems,
            patch.startDate ?? current.startDate,
            patch.endDate === undefined ? current.endDate : patch.endDate,
            input.endDate === undefined ? ['input', 'startDate'] : ['input', 'endDate'],
          );
          problems.throwIfAny();
          return { result: updated(await updateMissionRow(tx, current.id, patch)) };
        },
      );
    },
  },
  {
    outputFields: (t) => ({
      mission: t.field({ type: Mission, resolve: (payload) => payload.mission }),
    }),
  },
);

builder.relayMutationField(
  'endMission',
  {
    inputFields: (t) => ({
      id: t.globalID({ required: true }),
      endDate: t.field({ type: 'Date', description: 'Defaults to today (UTC).' }),
      status: t.field({ type: MissionEndStatus, defaultValue: 'COMPLETED' }),
    }),
    description: 'Ends a planned or active mission.',
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) => {
      const problems = new Problems();
      const id = databaseIdOf(problems, ['input', 'id'], input.id, 'Mission');
      return runAuditedMutation(
        context,
        {
          operation: 'endMission',
          resourceType: RESOURCE,
          resourceId: id === undefined ? null : String(id),
          details: { status: input.status ?? 'COMPLETED' },
        },
        async (tx) => {
          const current = await existingMission(problems, tx, id);
          if (current.status === 'COMPLETED' || current.status === 'CANCELLED') {
            problems.add(
              ['input', 'id'],
              'CONFLICT',
              `the mission has already ended (${current.status})`,
            );
          }
          const endDate = input.endDate ?? new Date().toISOString().slice(0, 10);
          checkMissionDate(problems, ['input', 'endDate'], endDate);
          checkDatesInOrder(problems, current.startDate, endDate, ['input', 'endDate']);
          problems.throwIfAny();
          const patch: MissionPatch = { endDate, status: input.status ?? 'COMPLETED' };
          return { result: updated(await updateMissionRow(tx, current.id, patch)) };
        },
      );
    },
  },
  {
    outputFields: (t) => ({
      mission: t.field({ type: Mission, resolve: (payload) => payload.mission }),
    }),
  },
);
