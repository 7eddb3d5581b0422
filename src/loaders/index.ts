import DataLoader from 'dataloader';
import { type Caches, cachedPractices } from '../cache/index.js';
import type { Database } from '../db/client.js';
import { type ConsultantChildren, consultantsByIds } from '../db/queries/consultants.js';
import type { PageResult } from '../db/queries/keyset.js';
import {
  type ConsultantMissionsKey,
  currentMissionsForConsultants,
  missionCountsForConsultants,
  missionPagesForConsultants,
  missionsByIds,
} from '../db/queries/missions.js';
import {
  type ConsultantSkillRow,
  documentsByIds,
  documentsForConsultants,
  practicesByIds,
  skillsByIds,
  skillsForConsultants,
} from '../db/queries/reference.js';
import type {
  ConsultantRow,
  DocumentRow,
  MissionRow,
  PracticeRow,
  SkillRow,
} from '../db/schema/index.js';

/** Puts rows back in key order (DataLoader's contract), null where a key has no row. */
function oneForEachKey<K, T>(keys: readonly K[], rows: T[], keyOf: (row: T) => K): (T | null)[] {
  const byKey = new Map<K, T>();
  for (const row of rows) byKey.set(keyOf(row), row);
  return keys.map((key) => byKey.get(key) ?? null);
}

/** Groups rows by key, keeping the SQL's order inside each group. */
function manyForEachKey<K, T>(keys: readonly K[], rows: T[], keyOf: (row: T) => K): T[][] {
  const byKey = new Map<K, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = byKey.get(key);
    if (group) group.push(row);
    else byKey.set(key, [row]);
  }
  return keys.map((key) => byKey.get(key) ?? []);
}

/**
 * Per-request loaders: each batch function issues exactly one SQL statement
 * and returns results in key order. Built fresh for every request (and every
 * subscription event), so their memoization never serves stale rows.
 */
export function createLoaders(db: Database, caches?: Caches) {
  return {
    consultant: new DataLoader<number, ConsultantRow | null>(async (ids) =>
      oneForEachKey(ids, await consultantsByIds(db, ids), (row) => row.id),
    ),
    mission: new DataLoader<number, MissionRow | null>(async (ids) =>
      oneForEachKey(ids, await missionsByIds(db, ids), (row) => row.id),
    ),
    // Eight practices, read on every consultant page: served from the
    // cross-request reference cache when there is one (invalidated by change
    // events like every cache), which saves a statement per page.
    practice: new DataLoader<number, PracticeRow | null>(async (ids) =>
      oneForEachKey(
        ids,
        caches ? await cachedPractices(caches, db) : await practicesByIds(db, ids),
        (row) => row.id,
      ),
    ),
    skill: new DataLoader<number, SkillRow | null>(async (ids) =>
      oneForEachKey(ids, await skillsByIds(db, ids), (row) => row.id),
    ),
    document: new DataLoader<number, DocumentRow | null>(async (ids) =>
      oneForEachKey(ids, await documentsByIds(db, ids), (row) => row.id),
    ),
    skillsOfConsultant: new DataLoader<number, ConsultantSkillRow[]>(async (ids) =>
      manyForEachKey(ids, await skillsForConsultants(db, ids), (row) => row.consultantId),
    ),
    documentsOfConsultant: new DataLoader<number, DocumentRow[]>(async (ids) =>
      manyForEachKey(ids, await documentsForConsultants(db, ids), (row) => row.consultantId),
    ),
    currentMission: new DataLoader<number, MissionRow | null>(async (ids) =>
      oneForEachKey(ids, await currentMissionsForConsultants(db, ids), (row) => row.consultantId),
    ),
    missionCount: new DataLoader<number, number>(async (ids) => {
      const counts = await missionCountsForConsultants(db, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    /** Children a page statement read along, by consultant row (primeConsultantChildren). */
    readAlong: new WeakMap<ConsultantRow, ReadAlong>(),
    missionPage: new DataLoader<ConsultantMissionsKey, PageResult<MissionRow>, string>(
      (keys) => missionPagesForConsultants(db, keys),
      {
        cacheKeyFn: (key) =>
          `${key.consultantId}:${key.limit}:${key.after?.value}:${key.after?.id}`,
      },
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** What a page statement read along for one consultant, for its fields to take without a load. */
export interface ReadAlong {
  skills?: ConsultantSkillRow[];
  missions?: ConsultantChildren['missions'];
  practice?: PracticeRow;
}

/**
 * Hands the children a page statement read along with its consultants
 * (pageConsultantsWithChildren), and their practices from the cached list,
 * to the fields that resolve them: by row in `readAlong`, which those
 * fields read synchronously (no promise, no batch to wait for). Skills,
 * read whole, also go to their loader for any other path of the request
 * that asks for them; missions, read with only the columns this page's
 * selections read, do not.
 */
export function primeConsultantChildren(
  loaders: Loaders,
  consultants: readonly ConsultantRow[],
  children: readonly ConsultantChildren[],
  practices?: readonly PracticeRow[],
): void {
  const practiceById = practices && new Map(practices.map((practice) => [practice.id, practice]));
  consultants.forEach((consultant, index) => {
    const read = children[index];
    const along: ReadAlong = {
      skills: read?.skills,
      missions: read?.missions,
      practice: practiceById?.get(consultant.practiceId),
    };
    loaders.readAlong.set(consultant, along);
    if (read?.skills) loaders.skillsOfConsultant.prime(consultant.id, read.skills);
  });
}
