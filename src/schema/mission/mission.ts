import { countMissions, type MissionFilter, pageMissions } from '../../db/queries/missions.js';
import type { MissionRow } from '../../db/schema/index.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';
import { idOfType, toDatabaseId } from '../ids.js';
import { encodeCursor, isIsoDate, pageWindow, toConnection, UNREAD_PAGE } from '../pagination.js';
import { SortDirection } from '../scalars.js';
import { selectsPage } from '../selection.js';

export const MissionStatus = builder.enumType('MissionStatus', {
  values: {
    PLANNED: { description: 'Signed, not started yet.' },
    ACTIVE: { description: 'Under way.' },
    COMPLETED: { description: 'Ended as planned.' },
    CANCELLED: { description: 'Stopped before or during delivery.' },
  } as const,
});

export const MISSION_SORT_KEY = 'START_DATE';

export const missionCursor = (mission: MissionRow) =>
  encodeCursor(MISSION_SORT_KEY, mission.startDate, mission.id);

export const Mission = builder.objectRef<MissionRow>('Mission');

/** Shared by the root `missions` list and `Consultant.missions`. */
export const MissionConnection = builder.connectionObject(
  { type: Mission, name: 'MissionConnection' },
  { name: 'MissionEdge' },
);

const MissionFilterInput = builder.inputType('MissionFilter', {
  fields: (t) => ({
    consultantIds: t.globalIDList({ description: 'Missions of any of these consultants.' }),
    statuses: t.field({ type: [MissionStatus], description: 'Missions in any of these statuses.' }),
    from: t.field({
      type: 'Date',
      description: 'Missions still running on or after this date (ongoing missions never end).',
    }),
    to: t.field({ type: 'Date', description: 'Missions started on or before this date.' }),
  }),
});

const MissionOrderInput = builder.inputType('MissionOrder', {
  fields: (t) => ({
    direction: t.field({ type: SortDirection, defaultValue: 'DESC', required: true }),
  }),
});

builder.queryField('missions', (t) =>
  t.connection(
    {
      type: Mission,
      description: 'Missions ordered by start date (newest first by default), then id.',
      args: {
        filter: t.arg({ type: MissionFilterInput }),
        orderBy: t.arg({ type: MissionOrderInput }),
      },
      resolve: async (_root, args, { services }, info) => {
        const window = pageWindow(args, MISSION_SORT_KEY, isIsoDate);
        const filter: MissionFilter = {
          consultantIds: args.filter?.consultantIds?.map((id) =>
            idOfType(id, 'Consultant', 'filter.consultantIds'),
          ),
          statuses: args.filter?.statuses,
          from: args.filter?.from,
          to: args.filter?.to,
        };
        if (filter.from && filter.to && filter.from > filter.to) {
          throw badUserInput('"filter.from" must not be after "filter.to"', 'filter.from');
        }
        const page = selectsPage(info)
          ? await pageMissions(services.db, filter, args.orderBy?.direction ?? 'DESC', window)
          : UNREAD_PAGE;
        return {
          ...toConnection(page, missionCursor),
          totalCount: () =>
            services.caches.counts.getOrLoad(
              `missions:${JSON.stringify(filter)}`,
              ['missions'],
              () => countMissions(services.db, filter),
            ),
        };
      },
    },
    MissionConnection,
  ),
);

builder.node(Mission, {
  description: 'A staffing assignment of one consultant at a client.',
  id: { resolve: (mission) => mission.id },
  loadMany: (ids, { loaders }) =>
    ids.map((id) => loaders.mission.load(toDatabaseId(id, 'id', 'bigint'))),
  fields: (t) => ({
    client: t.exposeString('client'),
    title: t.exposeString('title'),
    startDate: t.expose('startDate', { type: 'Date' }),
    endDate: t.expose('endDate', {
      type: 'Date',
      nullable: true,
      description: 'Null while ongoing.',
    }),
    dailyRate: t.exposeInt('dailyRate', { description: 'Billed daily rate, in euros.' }),
    status: t.expose('status', { type: MissionStatus }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    // Mission.consultant is added by the consultant module, which owns the Consultant type.
  }),
});
