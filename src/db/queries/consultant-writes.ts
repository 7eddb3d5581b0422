import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import {
  type ConsultantRow,
  consultantColumns,
  consultantSkills,
  consultants,
  practices,
  skills,
} from '../schema/index.js';
import type { Executor } from './executor.js';

export type NewConsultant = Pick<
  ConsultantRow,
  'firstName' | 'lastName' | 'email' | 'practiceId' | 'grade' | 'dailyRate' | 'availability'
>;
export type ConsultantPatch = Partial<NewConsultant>;

export interface SkillLevel {
  skillId: number;
  level: number;
}

export async function findConsultant(db: Executor, id: number): Promise<ConsultantRow | undefined> {
  const [row] = await db.select(consultantColumns).from(consultants).where(eq(consultants.id, id));
  return row;
}

/** Whether another consultant already uses this email (case-insensitively). */
export async function isEmailTaken(
  db: Executor,
  email: string,
  exceptConsultantId?: number,
): Promise<boolean> {
  const [row] = await db
    .select({ id: consultants.id })
    .from(consultants)
    .where(
      and(
        sql`lower(${consultants.email}) = lower(${email})`,
        exceptConsultantId === undefined ? undefined : ne(consultants.id, exceptConsultantId),
      ),
    )
    .limit(1);
  return row !== undefined;
}

export async function practiceExists(db: Executor, id: number): Promise<boolean> {
  const [row] = await db.select({ id: practices.id }).from(practices).where(eq(practices.id, id));
  return row !== undefined;
}

/** The subset of `ids` that name existing skills. */
export async function existingSkillIds(db: Executor, ids: readonly number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: skills.id })
    .from(skills)
    .where(inArray(skills.id, [...ids]));
  return new Set(rows.map((row) => row.id));
}

export async function insertConsultant(
  db: Executor,
  values: NewConsultant,
): Promise<ConsultantRow> {
  const [row] = await db.insert(consultants).values(values).returning(consultantColumns);
  if (!row) throw new Error('consultant insert returned no row');
  return row;
}

export async function updateConsultantRow(
  db: Executor,
  id: number,
  patch: ConsultantPatch,
): Promise<ConsultantRow | undefined> {
  const [row] = await db
    .update(consultants)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(consultants.id, id))
    .returning(consultantColumns);
  return row;
}

/** Deletes the consultant; missions, skills and documents go with it (ON DELETE CASCADE). */
export async function deleteConsultantRow(db: Executor, id: number): Promise<boolean> {
  const rows = await db
    .delete(consultants)
    .where(eq(consultants.id, id))
    .returning({ id: consultants.id });
  return rows.length > 0;
}

/** Replaces the consultant's whole skill set; two statements whatever its size. */
export async function replaceConsultantSkills(
  db: Executor,
  consultantId: number,
  levels: readonly SkillLevel[],
): Promise<void> {
  await db.delete(consultantSkills).where(eq(consultantSkills.consultantId, consultantId));
  if (levels.length === 0) return;
  await db
    .insert(consultantSkills)
    .values(levels.map((entry) => ({ consultantId, skillId: entry.skillId, level: entry.level })));
}
