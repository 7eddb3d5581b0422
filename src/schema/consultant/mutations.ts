import {
  type ConsultantPatch,
  deleteConsultantRow,
  existingSkillIds,
  findConsultant,
  insertConsultant,
  isEmailTaken,
  practiceExists,
  replaceConsultantSkills,
  type SkillLevel,
  updateConsultantRow,
} from '../../db/queries/consultant-writes.js';
import type { Executor } from '../../db/queries/executor.js';
import { adminOnly, runAuditedMutation } from '../audit/mutation.js';
import { builder } from '../builder.js';
import { databaseIdOf, Problems, postgresErrorOf, sentFields } from '../mutation-input.js';
import { checkDailyRate, checkText, isEmail, ValidationError } from '../validation.js';
import { Availability, Consultant, Grade } from './consultant.js';

const RESOURCE = 'Consultant';
const MAX_SKILLS = 100;

/** A concurrent insert can still win the race the check lost: its unique violation means the same. */
function translateEmailConflict(error: unknown): unknown {
  const pg = postgresErrorOf(error);
  if (pg.code === '23505' && pg.constraint === 'consultants_email_key') {
    return new ValidationError([
      { path: ['input', 'email'], code: 'TAKEN', message: 'is already used by another consultant' },
    ]);
  }
  return error;
}

async function checkEmail(
  db: Executor,
  problems: Problems,
  value: string,
  exceptConsultantId?: number,
): Promise<string> {
  const email = value.trim().toLowerCase();
  const path = ['input', 'email'];
  if (!isEmail(email) || email.length > 200)
    problems.add(path, 'INVALID', 'is not a valid email address');
  else if (await isEmailTaken(db, email, exceptConsultantId)) {
    problems.add(path, 'TAKEN', 'is already used by another consultant');
  }
  return email;
}

async function checkPractice(
  db: Executor,
  problems: Problems,
  globalId: { typename: string; id: string },
): Promise<number | undefined> {
  const path = ['input', 'practiceId'];
  const id = databaseIdOf(problems, path, globalId, 'Practice');
  if (id !== undefined && !(await practiceExists(db, id))) {
    problems.add(path, 'NOT_FOUND', 'no such practice');
  }
  return id;
}

builder.relayMutationField(
  'createConsultant',
  {
    inputFields: (t) => ({
      firstName: t.string({ required: true }),
      lastName: t.string({ required: true }),
      email: t.string({ required: true, description: 'Unique, case-insensitively.' }),
      practiceId: t.globalID({ required: true }),
      grade: t.field({ type: Grade, required: true }),
      dailyRate: t.int({ required: true, description: 'In euros, 1 to 100000.' }),
      availability: t.field({ type: Availability, defaultValue: 'AVAILABLE' }),
    }),
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) =>
      runAuditedMutation(
        context,
        {
          operation: 'createConsultant',
          resourceType: RESOURCE,
          details: { fields: sentFields(input) },
        },
        async (tx) => {
          const problems = new Problems();
          const firstName = checkText(problems, ['input', 'firstName'], input.firstName);
          const lastName = checkText(problems, ['input', 'lastName'], input.lastName);
          const email = await checkEmail(tx, problems, input.email);
          const practiceId = await checkPractice(tx, problems, input.practiceId);
          checkDailyRate(problems, ['input', 'dailyRate'], input.dailyRate);
          problems.throwIfAny();
          const consultant = await insertConsultant(tx, {
            firstName,
            lastName,
            email,
            practiceId: practiceId as number,
            grade: input.grade,
            dailyRate: input.dailyRate,
            availability: input.availability ?? 'AVAILABLE',
          });
          return { result: { consultant }, resourceId: String(consultant.id) };
        },
        translateEmailConflict,
      ),
  },
  {
    outputFields: (t) => ({
      consultant: t.field({ type: Consultant, resolve: (payload) => payload.consultant }),
    }),
  },
);

builder.relayMutationField(
  'updateConsultant',
  {
    inputFields: (t) => ({
      id: t.globalID({ required: true }),
      firstName: t.string(),
      lastName: t.string(),
      email: t.string(),
      practiceId: t.globalID(),
      grade: t.field({ type: Grade }),
      dailyRate: t.int(),
      availability: t.field({ type: Availability }),
    }),
    description: 'Omitted (or null) fields keep their value.',
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) => {
      const problems = new Problems();
      const id = databaseIdOf(problems, ['input', 'id'], input.id, 'Consultant');
      const fields = sentFields(input).filter((field) => field !== 'id');
      return runAuditedMutation(
        context,
        {
          operation: 'updateConsultant',
          resourceType: RESOURCE,
          resourceId: id === undefined ? null : String(id),
          details: { fields },
        },
        async (tx) => {
          problems.throwIfAny();
          const consultantId = id as number;
          if (!(await findConsultant(tx, consultantId))) {
            problems.add(['input', 'id'], 'NOT_FOUND', 'no such consultant');
          }
          problems.throwIfAny();
          if (!fields.some((field) => input[field as keyof typeof input] != null)) {
            problems.add(['input'], 'INVALID', 'names no field to change');
          }
          const patch: ConsultantPatch = {};
          if (input.firstName != null) {
            patch.firstName = checkText(problems, ['input', 'firstName'], input.firstName);
          }
          if (input.lastName != null) {
            patch.lastName = checkText(problems, ['input', 'lastName'], input.lastName);
          }
          if (input.email != null) {
            patch.email = await checkEmail(tx, problems, input.email, consultantId);
          }
          if (input.practiceId != null) {
            patch.practiceId = await checkPractice(tx, problems, input.practiceId);
          }
          if (input.dailyRate != null) {
            checkDailyRate(problems, ['input', 'dailyRate'], input.dailyRate);
            patch.dailyRate = input.dailyRate;
          }
          if (input.grade != null) patch.grade = input.grade;
          if (input.availability != null) patch.availability = input.availability;
          problems.throwIfAny();
          const consultant = await updateConsultantRow(tx, consultantId, patch);
          // Deleted between the check and the update.
          if (!consultant) {
            throw new ValidationError([
              { path: ['input', 'id'], code: 'NOT_FOUND', message: 'no such consultant' },
            ]);
          }
          return { result: { consultant } };
        },
        translateEmailConflict,
      );
    },
  },
  {
    outputFields: (t) => ({
      consultant: t.field({ type: Consultant, resolve: (payload) => payload.consultant }),
    }),
  },
);

builder.relayMutationField(
  'deleteConsultant',
  {
    inputFields: (t) => ({ id: t.globalID({ required: true }) }),
    description: 'Deletes the consultant with their missions, skills and documents.',
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) => {
      const problems = new Problems();
      const id = databaseIdOf(problems, ['input', 'id'], input.id, 'Consultant');
      return runAuditedMutation(
        context,
        {
          operation: 'deleteConsultant',
          resourceType: RESOURCE,
          resourceId: id === undefined ? null : String(id),
        },
        async (tx) => {
          problems.throwIfAny();
          if (!(await deleteConsultantRow(tx, id as number))) {
            problems.add(['input', 'id'], 'NOT_FOUND', 'no such consultant');
            problems.throwIfAny();
          }
          return { result: { deletedId: input.id } };
        },
      );
    },
  },
  {
    outputFields: (t) => ({
      deletedConsultantId: t.id({
        description: 'Global ID of the deleted consultant.',
        resolve: (payload) =>
          Buffer.from(`${payload.deletedId.typename}:${payload.deletedId.id}`).toString('base64'),
      }),
    }),
  },
);

const SkillLevelInput = builder.inputType('SkillLevelInput', {
  fields: (t) => ({
    skillId: t.globalID({ required: true }),
    level: t.int({ required: true, description: '1 (notions) to 5 (expert).' }),
  }),
});

builder.relayMutationField(
  'setConsultantSkills',
  {
    inputFields: (t) => ({
      consultantId: t.globalID({ required: true }),
      skills: t.field({
        type: [SkillLevelInput],
        required: true,
        description: `The whole skill set (replaces the current one), at most ${MAX_SKILLS}.`,
      }),
    }),
  },
  {
    authScopes: adminOnly(RESOURCE),
    errors: { types: [ValidationError] },
    resolve: (_root, { input }, context) => {
      const problems = new Problems();
      const consultantId = databaseIdOf(
        problems,
        ['input', 'consultantId'],
        input.consultantId,
        'Consultant',
      );
      return runAuditedMutation(
        context,
        {
          operation: 'setConsultantSkills',
          resourceType: RESOURCE,
          resourceId: consultantId === undefined ? null : String(consultantId),
          details: { skills: input.skills.length },
        },
        async (tx) => {
          if (input.skills.length > MAX_SKILLS) {
            problems.add(['input', 'skills'], 'OUT_OF_RANGE', `at most ${MAX_SKILLS} skills`);
          }
          const levels: SkillLevel[] = [];
          const seen = new Set<number>();
          input.skills.forEach((entry, index) => {
            const path = ['input', 'skills', String(index)];
            const skillId = databaseIdOf(problems, [...path, 'skillId'], entry.skillId, 'Skill');
            if (!Number.isInteger(entry.level) || entry.level < 1 || entry.level > 5) {
              problems.add([...path, 'level'], 'OUT_OF_RANGE', 'must be between 1 and 5');
            }
            if (skillId === undefined) return;
            if (seen.has(skillId)) problems.add([...path, 'skillId'], 'INVALID', 'listed twice');
            seen.add(skillId);
            levels.push({ skillId, level: entry.level });
          });
          if (consultantId !== undefined && !(await findConsultant(tx, consultantId))) {
            problems.add(['input', 'consultantId'], 'NOT_FOUND', 'no such consultant');
          }
          const existing = await existingSkillIds(tx, [...seen]);
          input.skills.forEach((entry, index) => {
            const id = Number(entry.skillId.id);
            if (entry.skillId.typename === 'Skill' && seen.has(id) && !existing.has(id)) {
              problems.add(
                ['input', 'skills', String(index), 'skillId'],
                'NOT_FOUND',
                'no such skill',
              );
            }
          });
          problems.throwIfAny();
          await replaceConsultantSkills(tx, consultantId as number, levels);
          // Touching the consultant records when its skills changed.
          const consultant = await updateConsultantRow(tx, consultantId as number, {});
          return { result: { consultant } };
        },
      );
    },
  },
  {
    outputFields: (t) => ({
      consultant: t.field({
        type: Consultant,
        resolve: (payload) => {
          if (!payload.consultant)
            throw new Error('consultant vanished during setConsultantSkills');
          return payload.consultant;
        },
      }),
    }),
  },
);
