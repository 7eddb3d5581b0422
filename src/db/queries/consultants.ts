import { and, getTableName, inArray, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../client.js';
import {
  type ConsultantRow,
  consultantColumns,
  consultantSkills,
  consultants,
  type MissionRow,
  missions,
  type SkillRow,
} from '../schema/index.js';
import {
  type AttachedPageResult,
  type KeysetSpec,
  type PageResult,
  type PageWindow,
  type SortDirection,
  selectKeysetPage,
} from './keyset.js';
import type { ConsultantSkillRow } from './reference.js';

export type Availability = ConsultantRow['availability'];
export type ConsultantOrderField = 'LAST_NAME' | 'CREATED_AT' | 'DAILY_RATE' | 'ID';

export interface ConsultantFilter {
  practiceIds?: readonly number[] | null;
  availability?: readonly Availability[] | null;
  /** Consultants who have every one of these skills. */
  skillIds?: readonly number[] | null;
  /** Literal substring of first name, last name or email, case-insensitive. */
  search?: string | null;
}

export interface ConsultantOrder {
  field: ConsultantOrderField;
  direction: SortDirection;
}

/**
 * Escapes LIKE metacharacters so user text matches literally: `50%` finds
 * "50%", not everything starting with 50. Backslash is PostgreSQL's default
 * LIKE escape character.
 */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

export function filterConditions(filter: ConsultantFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.practiceIds?.length) {
    conditions.push(inArray(consultants.practiceId, [...filter.practiceIds]));
  }
  if (filter.availability?.length) {
    conditions.push(inArray(consultants.availability, [...filter.availability]));
  }
  if (filter.skillIds?.length) {
    const skillIds = [...new Set(filter.skillIds)];
    conditions.push(
      inArray(
        consultants.id,
        sql`(SELECT ${consultantSkills.consultantId} FROM ${consultantSkills}
             WHERE ${inArray(consultantSkills.skillId, skillIds)}
             GROUP BY ${consultantSkills.consultantId}
             HAVING count(*) = ${skillIds.length})`,
      ),
    );
  }
  const search = filter.search?.trim();
  if (search) {
    // PostgreSQL lower-cases the pattern, as ILIKE would (see consultants.searchText).
    conditions.push(sql`${consultants.searchText} LIKE lower(${`%${escapeLikePattern(search)}%`})`);
  }
  return conditions;
}

const orderColumns = {
  LAST_NAME: { column: consultants.lastName, valueType: 'text' },
  CREATED_AT: { column: consultants.createdAt, valueType: 'timestamptz' },
  DAILY_RATE: { column: consultants.dailyRate, valueType: 'integer' },
  ID: { column: consultants.id, valueType: 'integer' },
} as const;

/** The value a consultant's cursor holds for an order: what the keyset compares. */
export function consultantSortValue(row: ConsultantRow, field: ConsultantOrderField) {
  switch (field) {
    case 'LAST_NAME':
      return row.lastName;
    case 'CREATED_AT':
      // Columns are timestamptz(3), so milliseconds round-trip exactly through JSON.
      return row.createdAt.toISOString();
    case 'DAILY_RATE':
      return row.dailyRate;
    case 'ID':
      return row.id;
  }
}

/** Columns of the last-name index (key and INCLUDE, migrations 0006 and 0010): all a filter reads. */
export const SEARCH_WALK_COLUMNS = [
  consultants.id,
  consultants.lastName,
  consultants.searchText,
  consultants.practiceId,
  consultants.availability,
];
/**
 * Rows a search reads in order before it takes the trigram index instead.
 * By last name: index tuples, ~5 ms of walking (about 0.24 µs a tuple, the
 * LIKE on search_text included). By id: rows in table order (the primary
 * key walked, the heap read nearly sequentially, ~0.2 µs a row); long enough
 * that a fragment the walk misses has so few matches (under ~21 in 30,000,
 * about 700 at 1M rows) that the trigram fallback's random heap reads stay
 * short. At 1M consultants the bench's search row (200 fragments) gave a
 * p95 of 15–19 ms walking 20,000 or 30,000 rows, 24–29 ms walking 50,000
 * (the walk itself then dominates); run to run noise is a few ms.
 */
const SEARCH_WALK_ROWS: Partial<Record<ConsultantOrderField, number>> = {
  LAST_NAME: 20_000,
  ID: 30_000,
};

/**
 * What a page of consultants can carry for each of its rows, read in the
 * page's own statement: their skills, and the first page of their missions.
 */
export interface ConsultantPageChildren {
  /**
   * Their skills, strongest first then by name. The statement reads (skill,
   * level) pairs only; names and order come from `catalogue`, every skill
   * in the database's order of names (a cached list).
   */
  skills?: { catalogue: readonly SkillRow[] };
  /**
   * Newest-first missions from the start of the list: `limit` of them, and
   * whether more exist when `hasNextPage` is asked for (one more row read
   * per consultant; without it the page says false). Their rows carry id,
   * consultantId, startDate and `fields` only: what the selections that
   * asked for them read, so they serve those selections and nothing else.
   */
  missions?: { limit: number; fields: readonly MissionPageField[]; hasNextPage: boolean };
}

/** The children of one consultant of a page, as the per-consultant loaders would have read them. */
export interface ConsultantChildren {
  skills?: ConsultantSkillRow[];
  /** The first page of `limit` missions, as ConsultantPageChildren.missions describes it. */
  missions?: { limit: number; page: PageResult<MissionRow> };
}

/**
 * The page row's id, spelled with its table: in a select list drizzle
 * writes a column without it, which inside a sub-select would name the
 * sub-select's own `id`.
 */
const pageRowId = sql`${sql.identifier(getTableName(consultants))}.${sql.identifier(consultants.id.name)}`;

/** A consultant's skills as (skill id, level) pairs, in no particular order. */
const skillPairsJson = sql`(
  SELECT coalesce(json_agg(json_build_array(cs.skill_id, cs.level)), '[]'::json)
  FROM ${consultantSkills} cs WHERE cs.consultant_id = ${pageRowId})`;

/** Mission columns a page can read along besides id and start_date (which its cursors need), by field. */
export const MISSION_PAGE_FIELDS = [
  'client',
  'title',
  'endDate',
  'dailyRate',
  'status',
  'createdAt',
  'updatedAt',
] as const;
export type MissionPageField = (typeof MISSION_PAGE_FIELDS)[number];

/** Timestamps travel as epoch milliseconds (columns are timestamptz(3)): a number is cheaper to read than a string. */
const missionFieldSql: Record<MissionPageField, SQL> = {
  client: sql`m.client`,
  title: sql`m.title`,
  endDate: sql`m.end_date`,
  dailyRate: sql`m.daily_rate`,
  status: sql`m.status`,
  createdAt: sql`(date_part('epoch', m.created_at) * 1000)::int8`,
  updatedAt: sql`(date_part('epoch', m.updated_at) * 1000)::int8`,
};

/**
 * A consultant's `rows` newest missions by the (consultant_id, start_date
 * DESC, id DESC) index: id, start_date and the `fields` asked for, in
 * MISSION_PAGE_FIELDS order (so a selection always gives the same
 * statement text).
 */
function missionsJson(rows: number, fields: readonly MissionPageField[]) {
  const values = [sql`m.id`, sql`m.start_date`, ...fields.map((field) => missionFieldSql[field])];
  return sql`(
  SELECT coalesce(json_agg(json_build_array(${sql.join(values, sql`, `)})
                           ORDER BY m.start_date DESC, m.id DESC), '[]'::json)
  FROM (SELECT * FROM ${missions} m WHERE m.consultant_id = ${pageRowId}
        ORDER BY m.start_date DESC, m.id DESC LIMIT ${rows}) m)`;
}

type SkillPairJson = [skillId: number, level: number];
type MissionJson = [id: number, startDate: string, ...fields: unknown[]];

/** A skill's place in the catalogue: its rank in the database's order of names. */
type SkillRanks = Map<number, { skill: SkillRow; rank: number }>;

/** By catalogue: the cached list is the same array until the skills change. */
const ranksByCatalogue = new WeakMap<readonly SkillRow[], SkillRanks>();

function rankSkills(catalogue: readonly SkillRow[]): SkillRanks {
  let ranks = ranksByCatalogue.get(catalogue);
  if (!ranks) {
    ranks = new Map(catalogue.map((skill, rank) => [skill.id, { skill, rank }]));
    ranksByCatalogue.set(catalogue, ranks);
  }
  return ranks;
}

/**
 * A consultant's skills from their (skill, level) pairs, strongest first then
 * by name, as the skills loader's SQL orders them; undefined when a skill is
 * missing from the catalogue (added since it was cached), which leaves that
 * consultant's skills to the loader.
 */
function skillsFromPairs(
  consultantId: number,
  pairs: SkillPairJson[],
  ranks: SkillRanks,
): ConsultantSkillRow[] | undefined {
  const ranked: { row: ConsultantSkillRow; rank: number }[] = [];
  for (const [skillId, level] of pairs) {
    const known = ranks.get(skillId);
    if (!known) return undefined;
    ranked.push({ row: { consultantId, level, skill: known.skill }, rank: known.rank });
  }
  ranked.sort((a, b) => b.row.level - a.row.level || a.rank - b.rank);
  return ranked.map(({ row }) => row);
}

function childrenOf(
  consultantId: number,
  attached: Record<string, unknown>,
  include: ConsultantPageChildren,
  skillRanks: SkillRanks | undefined,
): ConsultantChildren {
  const children: ConsultantChildren = {};
  if (skillRanks) {
    children.skills = skillsFromPairs(consultantId, attached.skills as SkillPairJson[], skillRanks);
  }
  if (include.missions) {
    const { limit, fields, hasNextPage } = include.missions;
    const rows = (attached.missions as MissionJson[]).map(([id, startDate, ...values]) => {
      // Only the columns the selection reads: the fields it does not read stay absent.
      const row: Record<string, unknown> = { id, consultantId, startDate };
      fields.forEach((field, index) => {
        const value = values[index];
        row[field] =
          (field === 'createdAt' || field === 'updatedAt') && typeof value === 'number'
            ? new Date(value)
            : value;
      });
      return row as MissionRow;
    });
    children.missions = {
      limit,
      page: {
        rows: rows.slice(0, limit),
        hasNextPage: hasNextPage && rows.length > limit,
        hasPreviousPage: false,
      },
    };
  }
  return children;
}

/**
 * One page of consultants and, in the same statement, the children
 * `include` names for each of them: one round trip for a page whatever it
 * nests, where loaders would add one per kind of child.
 */
export async function pageConsultantsWithChildren(
  db: Database,
  filter: ConsultantFilter,
  order: ConsultantOrder,
  window: PageWindow<string | number>,
  include: ConsultantPageChildren,
): Promise<PageResult<ConsultantRow> & { children: ConsultantChildren[] }> {
  const columns: Record<string, SQL> = {};
  const shape: string[] = [];
  if (include.skills) {
    columns.skills = skillPairsJson;
    shape.push('skills');
  }
  if (include.missions) {
    const { limit, fields, hasNextPage } = include.missions;
    const rows = hasNextPage ? limit + 1 : limit;
    columns.missions = missionsJson(rows, fields);
    shape.push(`missions:${rows}:${fields.join(',')}`);
  }
  const page = await pageConsultants(db, filter, order, window, {
    columns,
    shape: shape.join(';'),
  });
  const skillRanks = include.skills ? rankSkills(include.skills.catalogue) : undefined;
  return {
    rows: page.rows,
    hasNextPage: page.hasNextPage,
    hasPreviousPage: page.hasPreviousPage,
    children: page.rows.map((row, index) =>
      childrenOf(row.id, page.attached[index] ?? {}, include, skillRanks),
    ),
  };
}

/** One page of consultants, in one statement (see selectKeysetPage). */
export async function pageConsultants(
  db: Database,
  filter: ConsultantFilter,
  order: ConsultantOrder,
  window: PageWindow<string | number>,
  /** Values read along with each row (see KeysetPageOptions.attach), and a key naming their SQL. */
  attach?: { columns: Record<string, SQL>; shape: string },
): Promise<AttachedPageResult<ConsultantRow>> {
  const { column, valueType } = orderColumns[order.field];
  const spec: KeysetSpec<string | number> = {
    orderColumn: column,
    idColumn: consultants.id,
    valueType,
    direction: order.direction,
    window,
  };
  // A search by last name walks the last-name index, which carries every
  // column the filters read (migrations 0006, 0010), so the walk is index-only; a
  // search by id walks the table in its physical order. Where a fragment's
  // matches crowd into a few last names (a last-name fragment), the walk by
  // last name falls short and the fallback reads every match from the heap:
  // that is why a search is ordered by id unless asked otherwise.
  const search = Boolean(filter.search?.trim());
  const walkRows = SEARCH_WALK_ROWS[order.field];
  const conditions = filterConditions(filter);
  return selectKeysetPage<typeof consultants, string | number, ConsultantRow>(
    db,
    consultants,
    conditions,
    spec,
    {
      columns: consultantColumns,
      boundedWalk:
        search && walkRows ? { columns: SEARCH_WALK_COLUMNS, rows: walkRows } : undefined,
      attach: attach?.columns,
      // Without a filter the statement's text depends only on the order, the
      // window's shape and what is attached: a handful of texts, each built and planned once.
      prepared: conditions.length === 0 ? { shape: attach?.shape ?? '' } : undefined,
    },
  );
}

export async function countConsultants(db: Database, filter: ConsultantFilter): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(consultants)
    .where(and(...filterConditions(filter)));
  return row?.count ?? 0;
}

export async function consultantsByIds(
  db: Database,
  ids: readonly number[],
): Promise<ConsultantRow[]> {
  if (ids.length === 0) return [];
  return db
    .select(consultantColumns)
    .from(consultants)
    .where(inArray(consultants.id, [...ids]));
}
