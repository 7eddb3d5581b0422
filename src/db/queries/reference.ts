import { asc, desc, eq, inArray } from 'drizzle-orm';
import type { Database } from '../client.js';
import {
  consultantSkills,
  type DocumentRow,
  documents,
  type PracticeRow,
  practices,
  type SkillRow,
  skills,
} from '../schema/index.js';

export async function listPractices(db: Database): Promise<PracticeRow[]> {
  return db.select().from(practices).orderBy(asc(practices.name));
}

export async function listSkills(db: Database, category?: string | null): Promise<SkillRow[]> {
  return db
    .select()
    .from(skills)
    .where(category ? eq(skills.category, category) : undefined)
    .orderBy(asc(skills.category), asc(skills.name));
}

/** Every skill, in the database's order of names (its collation, not JavaScript's). */
export async function listSkillsByName(db: Database): Promise<SkillRow[]> {
  return db.select().from(skills).orderBy(asc(skills.name));
}

export async function practicesByIds(db: Database, ids: readonly number[]): Promise<PracticeRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(practices)
    .where(inArray(practices.id, [...ids]));
}

export async function skillsByIds(db: Database, ids: readonly number[]): Promise<SkillRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(skills)
    .where(inArray(skills.id, [...ids]));
}

export interface ConsultantSkillRow {
  consultantId: number;
  level: number;
  skill: SkillRow;
}

/** Skills of many consultants, strongest first, in one statement. */
export async function skillsForConsultants(
  db: Database,
  consultantIds: readonly number[],
): Promise<ConsultantSkillRow[]> {
  if (consultantIds.length === 0) return [];
  return db
    .select({
      consultantId: consultantSkills.consultantId,
      level: consultantSkills.level,
      skill: skills,
    })
    .from(consultantSkills)
    .innerJoin(skills, eq(skills.id, consultantSkills.skillId))
    .where(inArray(consultantSkills.consultantId, [...consultantIds]))
    .orderBy(consultantSkills.consultantId, desc(consultantSkills.level), asc(skills.name));
}

/** Documents of many consultants, newest first, in one statement. */
export async function documentsForConsultants(
  db: Database,
  consultantIds: readonly number[],
): Promise<DocumentRow[]> {
  if (consultantIds.length === 0) return [];
  return db
    .select()
    .from(documents)
    .where(inArray(documents.consultantId, [...consultantIds]))
    .orderBy(documents.consultantId, desc(documents.uploadedAt), asc(documents.id));
}

export async function documentsByIds(db: Database, ids: readonly number[]): Promise<DocumentRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(documents)
    .where(inArray(documents.id, [...ids]));
}
