import type { ChangeTable } from '../db/change-contract.js';
import type { Database } from '../db/client.js';
import type { PageResult } from '../db/queries/keyset.js';
import { listPractices, listSkillsByName } from '../db/queries/reference.js';
import type { ConsultantRow, PracticeRow, SkillRow } from '../db/schema/index.js';
import type { DashboardStatsSnapshot } from '../stats/snapshot.js';
import { type CacheCounters, TaggedCache } from './tagged-cache.js';

export interface CacheSettings {
  ttlMs: number;
  maxEntries: number;
}

/**
 * The cross-request caches. Each is tagged by the tables its entries are
 * computed from, so one change event drops exactly what it made stale.
 */
export function createCaches(settings: CacheSettings) {
  const make = <V extends object | number>(name: string) =>
    new TaggedCache<V>({ name, ...settings });
  return {
    /** The dashboard snapshot (one entry), owned by the stats publisher. */
    stats: make<DashboardStatsSnapshot>('stats'),
    /** `totalCount` of filtered lists, keyed by list and filter. */
    counts: make<number>('counts'),
    /** The practices and skills lists. */
    reference: make<PracticeRow[] | SkillRow[]>('reference'),
    /** Search result pages, keyed by their full arguments. */
    search: make<PageResult<ConsultantRow>>('search'),
  };
}

export type Caches = ReturnType<typeof createCaches>;

/**
 * Every practice, by name, from the reference cache (one statement when the
 * cache is cold or a practice changed). Eight rows: the `practices` query
 * and the practice of every consultant on a page read them from here.
 */
export function cachedPractices(caches: Caches, db: Database): Promise<PracticeRow[]> {
  return caches.reference.getOrLoad('practices', ['practices'], () => listPractices(db)) as Promise<
    PracticeRow[]
  >;
}

/**
 * Every skill, in the database's order of names, from the reference cache:
 * a page's consultants carry their skills as (skill, level) pairs, named and
 * ordered from this list.
 */
export function cachedSkillsByName(caches: Caches, db: Database): Promise<SkillRow[]> {
  return caches.reference.getOrLoad('skills-by-name', ['skills'], () =>
    listSkillsByName(db),
  ) as Promise<SkillRow[]>;
}

/** What every cache offers whatever it holds: enough to invalidate it and report on it. */
export interface CacheHandle {
  readonly name: string;
  readonly counters: CacheCounters;
  readonly size: number;
  invalidate(tags: Iterable<string>): number;
  clear(): void;
}

export function allCaches(caches: Caches): CacheHandle[] {
  return Object.values(caches);
}

/** Drops every entry that depends on one of the changed tables, in every cache. */
export function invalidateTables(caches: Caches, tables: Iterable<ChangeTable>): void {
  const list = [...tables];
  for (const cache of allCaches(caches)) cache.invalidate(list);
}

export function clearCaches(caches: Caches): void {
  for (const cache of allCaches(caches)) cache.clear();
}
