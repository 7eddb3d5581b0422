import { eq, sql } from 'drizzle-orm';
import { type MissionRow, missions } from '../schema/index.js';
import type { Executor } from './executor.js';

export type NewMission = Pick<
  MissionRow,
  'consultantId' | 'client' | 'title' | 'startDate' | 'endDate' | 'dailyRate' | 'status'
>;
export type MissionPatch = Partial<Omit<NewMission, 'consultantId'>>;

export async function findMission(db: Executor, id: number): Promise<MissionRow | undefined> {
  const [row] = await db.select().from(missions).where(eq(missions.id, id));
  return row;
}

export async function insertMission(db: Executor, values: NewMission): Promise<MissionRow> {
  const [row] = await db.insert(missions).values(values).returning();
  if (!row) throw new Error('mission insert returned no row');
  return row;
}

export async function updateMissionRow(
  db: Executor,
  id: number,
  patch: MissionPatch,
): Promise<MissionRow | undefined> {
  const [row] = await db
    .update(missions)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(missions.id, id))
    .returning();
  return row;
}
