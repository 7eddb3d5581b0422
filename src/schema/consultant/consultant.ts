import type { GraphQLResolveInfo } from 'graphql';
import { cachedPractices, cachedSkillsByName } from '../../cache/index.js';
import type { ChangeTable } from '../../db/change-contract.js';
import {
  type ConsultantFilter,
  type ConsultantOrderField,
  type ConsultantPageChildren,
  consultantSortValue,
  countConsultants,
  MISSION_PAGE_FIELDS,
  pageConsultants,
  pageConsultantsWithChildren,
} from '../../db/queries/consultants.js';
import type { PageResult } from '../../db/queries/keyset.js';
import type { ConsultantSkillRow } from '../../db/queries/reference.js';
import type { ConsultantRow, DocumentRow, MissionRow } from '../../db/schema/index.js';
import { type Loaders, primeConsultantChildren } from '../../loaders/index.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { idOfType, toDatabaseId } from '../ids.js';
import { MISSION_SORT_KEY, Mission, MissionConnection, missionCursor } from '../mission/mission.js';
import {
  type Connection,
  DEFAULT_PAGE_SIZE,
  encodeCursor,
  isInteger,
  isIsoDate,
  isIsoTimestamp,
  isString,
  MAX_PAGE_SIZE,
  pageWindow,
  toConnection,
  UNREAD_PAGE,
} from '../pagination.js';
import { Practice, Skill } from '../reference/practice.js';
import { SortDirection } from '../scalars.js';
import { argumentsOfSelections, selectsPage, subfields, subfieldsAt } from '../selection.js';

export const Availability = builder.enumType('Availability', {
  values: {
    AVAILABLE: { description: 'Free to be staffed.' },
    ON_MISSION: { description: 'Currently staffed on a mission.' },
    UNAVAILABLE: { description: 'Not staffable (leave, training, internal role).' },
  } as const,
});

export const Grade = builder.enumType('Grade', {
  values: ['JUNIOR', 'CONSULTANT', 'SENIOR', 'MANAGER', 'DIRECTOR', 'PARTNER'] as const,
});

export const DocumentKind = builder.enumType('DocumentKind', {
  values: ['CV', 'CONTRACT', 'CERTIFICATION', 'MISSION_REPORT', 'ID_DOCUMENT'] as const,
});

const ConsultantOrderFieldEnum = builder.enumType('ConsultantOrderField', {
  values: {
    LAST_NAME: { description: 'Last name; ties broken by id.' },
    CREATED_AT: { description: 'When the consultant was added; ties broken by id.' },
    DAILY_RATE: { description: 'Daily rate; ties broken by id.' },
    ID: {
      description: 'The order consultants were added in (their id). The default order of a search.',
    },
  } as const,
});

export const Consultant = builder.objectRef<ConsultantRow>('Consultant');
export const Document = builder.objectRef<DocumentRow>('Document');
const ConsultantSkill = builder.objectRef<ConsultantSkillRow>('ConsultantSkill');

ConsultantSkill.implement({
  description: 'A skill a consultant has, with a self-assessed level.',
  fields: (t) => ({
    skill: t.field({ type: Skill, resolve: (row) => row.skill }),
    level: t.exposeInt('level', { description: '1 (notions) to 5 (expert).' }),
  }),
});

builder.node(Document, {
  id: { resolve: (document) => document.id },
  loadMany: (ids, { loaders }) => ids.map((id) => loaders.document.load(toDatabaseId(id))),
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.expose('kind', { type: DocumentKind }),
    sizeBytes: t.exposeInt('sizeBytes'),
    uploadedAt: t.expose('uploadedAt', { type: 'DateTime' }),
    consultant: t.field({
      type: Consultant,
      resolve: async (document, _args, { loaders }) => {
        const consultant = await loaders.consultant.load(document.consultantId);
        if (!consultant) throw new Error(`document ${document.id} refers to missing consultant`);
        return consultant;
      },
    }),
  }),
});

type ConsultantMissions = Connection<MissionRow> & { totalCount: () => Promise<number> };

async function loadPractice(consultant: ConsultantRow, loaders: Loaders) {
  const practice = await loaders.practice.load(consultant.practiceId);
  if (!practice) throw new Error(`consultant ${consultant.id} refers to missing practice`);
  return practice;
}

builder.node(Consultant, {
  description: 'A person the consultancy can staff.',
  id: { resolve: (consultant) => consultant.id },
  loadMany: (ids, { loaders }) => ids.map((id) => loaders.consultant.load(toDatabaseId(id))),
  fields: (t) => ({
    firstName: t.exposeString('firstName'),
    lastName: t.exposeString('lastName'),
    fullName: t.string({ resolve: (c) => `${c.firstName} ${c.lastName}` }),
    email: t.exposeString('email'),
    grade: t.expose('grade', { type: Grade }),
    dailyRate: t.exposeInt('dailyRate', { description: 'Standard daily rate, in euros.' }),
    availability: t.expose('availability', { type: Availability }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    practice: t.field({
      type: Practice,
      resolve: (consultant, _args, { loaders }) =>
        loaders.readAlong.get(consultant)?.practice ?? loadPractice(consultant, loaders),
    }),
    skills: t.field({
      type: [ConsultantSkill],
      description: 'Skills, strongest first.',
      resolve: (consultant, _args, { loaders }) =>
        loaders.readAlong.get(consultant)?.skills ?? loaders.skillsOfConsultant.load(consultant.id),
    }),
    documents: t.field({
      type: [Document],
      description: 'Documents, newest first.',
      resolve: (consultant, _args, { loaders }) =>
        loaders.documentsOfConsultant.load(consultant.id),
    }),
    currentMission: t.field({
      type: Mission,
      nullable: true,
      description: 'The ongoing (ACTIVE) mission, if any.',
      resolve: (consultant, _args, { loaders }) => loaders.currentMission.load(consultant.id),
    }),
    missions: t.connection(
      {
        type: Mission,
        description: 'Missions, newest first. Paginate forward with first/after.',
        resolve: (
          consultant,
          args,
          { loaders },
          info,
        ): ConsultantMissions | Promise<ConsultantMissions> => {
          if (args.last != null || args.before != null) {
            throw badUserInput(
              'Consultant.missions pages forward only: use first and after',
              'last',
            );
          }
          const window = pageWindow(args, MISSION_SORT_KEY, isIsoDate);
          const totalCount = () => loaders.missionCount.load(consultant.id);
          // Read along with the consultants' page: answered at once, no load to wait for.
          const read = loaders.readAlong.get(consultant)?.missions;
          if (read && window.after === null && read.limit === window.limit) {
            return { ...toConnection(read.page, missionCursor), totalCount };
          }
          if (!selectsPage(info)) {
            return { ...toConnection<MissionRow>(UNREAD_PAGE, missionCursor), totalCount };
          }
          return loaders.missionPage
            .load({ consultantId: consultant.id, limit: window.limit, after: window.after })
            .then((page) => ({ ...toConnection(page, missionCursor), totalCount }));
        },
      },
      MissionConnection,
    ),
  }),
});

// Added here rather than in the mission module, so that the dependency between
// the two modules runs one way (consultant → mission).
builder.objectField(Mission, 'consultant', (t) =>
  t.field({
    type: Consultant,
    resolve: async (mission, _args, { loaders }) => {
      const consultant = await loaders.consultant.load(mission.consultantId);
      if (!consultant) throw new Error(`mission ${mission.id} refers to missing consultant`);
      return consultant;
    },
  }),
);

const ConsultantFilterInput = builder.inputType('ConsultantFilter', {
  fields: (t) => ({
    practiceIds: t.globalIDList({ description: 'Consultants of any of these practices.' }),
    availability: t.field({ type: [Availability], description: 'Any of these availabilities.' }),
    skillIds: t.globalIDList({ description: 'Consultants who have all of these skills.' }),
    search: t.string({
      description:
        'Case-insensitive substring of first name, last name or email, matched literally (% and _ are plain characters).',
    }),
  }),
});

const ConsultantOrderInput = builder.inputType('ConsultantOrder', {
  fields: (t) => ({
    field: t.field({ type: ConsultantOrderFieldEnum, defaultValue: 'LAST_NAME', required: true }),
    direction: t.field({ type: SortDirection, defaultValue: 'ASC', required: true }),
  }),
});

const MAX_SEARCH_LENGTH = 200;

/** The tables a filtered consultants list reads: what its cache entries are tagged with. */
function consultantFilterTables(filter: ConsultantFilter): ChangeTable[] {
  return filter.skillIds?.length ? ['consultants', 'consultant_skills'] : ['consultants'];
}

/**
 * The children of a page's consultants that its statement can read along
 * (pageConsultantsWithChildren): their skills, and their first missions
 * when every selection of `missions` that reads a page asks for the same
 * first page. Anything else is left to the loaders, as are the children of
 * a cached search page. A failure to read a child now fails the page with
 * it: they are one statement.
 */
function childrenToRead(info: GraphQLResolveInfo): {
  skills: boolean;
  practice: boolean;
  missions?: ConsultantPageChildren['missions'];
} {
  const node = subfieldsAt(info, ['edges', 'node']);
  const include: ReturnType<typeof childrenToRead> = {
    skills: node.has('skills'),
    practice: node.has('practice'),
  };
  // A selection that reads only the missions' totalCount reads no page.
  const missionSelections = node.get('missions')?.filter((field) => selectsPage(info, [field]));
  if (missionSelections?.length) {
    // The first page each selection asks for, checked as the missions field checks it;
    // an invalid one is left to that field to report.
    const limits = new Set(
      argumentsOfSelections(info, 'Consultant', 'missions', missionSelections).map((args) => {
        if (!args) return null;
        try {
          const window = pageWindow(args, MISSION_SORT_KEY, isIsoDate);
          return window.after === null && window.before === null && !window.backward
            ? window.limit
            : null;
        } catch {
          return null;
        }
      }),
    );
    const [limit] = limits;
    if (limits.size === 1 && typeof limit === 'number') {
      // Fragments and aliases included: the union of what every selection reads of a mission.
      const read = subfieldsAt(info, ['edges', 'node'], missionSelections);
      include.missions = {
        limit,
        fields: MISSION_PAGE_FIELDS.filter((field) => read.has(field)),
        hasNextPage: subfields(info, missionSelections).has('pageInfo'),
      };
    }
  }
  return include;
}

const sortValueCheck = {
  LAST_NAME: isString,
  CREATED_AT: isIsoTimestamp,
  DAILY_RATE: isInteger,
  ID: isInteger,
} satisfies Record<ConsultantOrderField, (value: unknown) => boolean>;

builder.queryFields((t) => ({
  consultant: t.field({
    type: Consultant,
    nullable: true,
    args: { id: t.arg.globalID({ required: true }) },
    resolve: (_root, args, { loaders }) =>
      loaders.consultant.load(idOfType(args.id, 'Consultant', 'id')),
  }),
  consultants: t.connection({
    type: Consultant,
    description: `Consultants, keyset-paginated (at most ${MAX_PAGE_SIZE} a page, ${DEFAULT_PAGE_SIZE} by default).`,
    args: {
      filter: t.arg({ type: ConsultantFilterInput }),
      orderBy: t.arg({ type: ConsultantOrderInput }),
    },
    resolve: async (_root, args, { services, loaders }, info) => {
      // A search is ordered by id unless the client asks otherwise: by last
      // name, a fragment whose matches crowd into a few last names costs a
      // read of every match (see pageConsultants).
      const order = {
        field: args.orderBy?.field ?? (args.filter?.search?.trim() ? 'ID' : 'LAST_NAME'),
        direction: args.orderBy?.direction ?? 'ASC',
      } as const;
      const isSortValue = sortValueCheck[order.field] as (
        value: unknown,
      ) => value is string | number;
      const window = pageWindow(args, order.field, isSortValue);
      const search = args.filter?.search;
      if (search && search.length > MAX_SEARCH_LENGTH) {
        throw badUserInput(
          `"filter.search" must be at most ${MAX_SEARCH_LENGTH} characters`,
          'filter.search',
        );
      }
      const filter: ConsultantFilter = {
        practiceIds: args.filter?.practiceIds?.map((id) =>
          idOfType(id, 'Practice', 'filter.practiceIds'),
        ),
        skillIds: args.filter?.skillIds?.map((id) => idOfType(id, 'Skill', 'filter.skillIds')),
        availability: args.filter?.availability,
        search,
      };
      const tags = consultantFilterTables(filter);
      const filterKey = JSON.stringify(filter);
      // Search pages (trigram scans) are worth caching; plain keyset pages are index seeks.
      let page: PageResult<ConsultantRow> = UNREAD_PAGE;
      if (selectsPage(info) && filter.search) {
        page = await services.caches.search.getOrLoad(
          JSON.stringify([filterKey, order, window]),
          tags,
          () => pageConsultants(services.db, filter, order, window),
        );
      } else if (selectsPage(info)) {
        const wanted = childrenToRead(info);
        const [catalogue, practices] = await Promise.all([
          wanted.skills ? cachedSkillsByName(services.caches, services.db) : undefined,
          wanted.practice ? cachedPractices(services.caches, services.db) : undefined,
        ]);
        const withChildren = await pageConsultantsWithChildren(services.db, filter, order, window, {
          missions: wanted.missions,
          skills: catalogue ? { catalogue } : undefined,
        });
        primeConsultantChildren(loaders, withChildren.rows, withChildren.children, practices);
        page = withChildren;
      }
      return {
        ...toConnection(page, (row) =>
          encodeCursor(order.field, consultantSortValue(row, order.field), row.id),
        ),
        totalCount: () =>
          services.caches.counts.getOrLoad(`consultants:${filterKey}`, tags, () =>
            countConsultants(services.db, filter),
          ),
      };
    },
  }),
}));
