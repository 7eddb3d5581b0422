import { createLoaders } from '../../loaders/index.js';
import { TOP_SKILLS_COMPUTED } from '../../stats/computer.js';
import type { DashboardStatsSnapshot, PracticeStats, SkillStats } from '../../stats/snapshot.js';
import { builder } from '../builder.js';
import { badUserInput } from '../errors.js';

const DEFAULT_TOP_SKILLS = 10;
const MAX_MIN_INTERVAL_MS = 60 * 60 * 1000;

const ConsultantStats = builder
  .objectRef<DashboardStatsSnapshot['consultants']>('ConsultantStats')
  .implement({
    fields: (t) => ({
      total: t.exposeInt('total'),
      available: t.exposeInt('available'),
      onMission: t.exposeInt('onMission'),
      unavailable: t.exposeInt('unavailable'),
      utilizationRate: t.exposeFloat('utilizationRate', {
        description: 'Share of consultants on mission, 0 to 1.',
      }),
    }),
  });

const PracticeStatsRef = builder.objectRef<PracticeStats>('PracticeStats').implement({
  fields: (t) => ({
    practiceId: t.globalID({
      description: 'Global ID of the Practice.',
      resolve: (row) => ({ type: 'Practice', id: row.practiceId }),
    }),
    name: t.exposeString('name'),
    consultants: t.exposeInt('consultants'),
    available: t.exposeInt('available'),
    onMission: t.exposeInt('onMission'),
    unavailable: t.exposeInt('unavailable'),
    averageDailyRate: t.exposeFloat('averageDailyRate', {
      nullable: true,
      description: 'Mean daily rate of its consultants in euros; null without consultants.',
    }),
  }),
});

const MissionStats = builder
  .objectRef<DashboardStatsSnapshot['missions']>('MissionStats')
  .implement({
    fields: (t) => ({
      active: t.exposeInt('active', { description: 'Missions under way (ACTIVE).' }),
      ended: t.exposeInt('ended', { description: 'Missions that ended as planned (COMPLETED).' }),
      planned: t.exposeInt('planned'),
      cancelled: t.exposeInt('cancelled'),
      total: t.exposeInt('total'),
      averageDailyRate: t.exposeFloat('averageDailyRate', {
        nullable: true,
        description: 'Mean daily rate over all missions in euros; null without missions.',
      }),
    }),
  });

const SkillStatsRef = builder.objectRef<SkillStats>('SkillStats').implement({
  fields: (t) => ({
    skillId: t.globalID({
      description: 'Global ID of the Skill.',
      resolve: (row) => ({ type: 'Skill', id: row.skillId }),
    }),
    name: t.exposeString('name'),
    category: t.exposeString('category'),
    consultants: t.exposeInt('consultants', { description: 'Consultants who have the skill.' }),
  }),
});

const DashboardStats = builder.objectRef<DashboardStatsSnapshot>('DashboardStats').implement({
  description: 'Dashboard aggregates, exact as of `version`.',
  fields: (t) => ({
    version: t.exposeString('version', {
      description:
        'Increases with every change to the aggregates; equal versions mean equal numbers. A decimal integer (may exceed 2^53).',
    }),
    computedAt: t.expose('computedAt', { type: 'DateTime' }),
    consultants: t.field({ type: ConsultantStats, resolve: (s) => s.consultants }),
    practices: t.field({
      type: [PracticeStatsRef],
      description: 'Every practice, by name.',
      resolve: (s) => s.practices,
    }),
    missions: t.field({ type: MissionStats, resolve: (s) => s.missions }),
    topSkills: t.field({
      type: [SkillStatsRef],
      description: `Skills by number of consultants, most common first (at most ${TOP_SKILLS_COMPUTED}).`,
      args: { first: t.arg.int({ defaultValue: DEFAULT_TOP_SKILLS, required: true }) },
      resolve: (s, args) => {
        if (args.first < 0 || args.first > TOP_SKILLS_COMPUTED) {
          throw badUserInput(`"first" must be between 0 and ${TOP_SKILLS_COMPUTED}`, 'first');
        }
        return s.topSkills.slice(0, args.first);
      },
    }),
  }),
});

builder.queryField('stats', (t) =>
  t.field({
    type: DashboardStats,
    description: 'The dashboard aggregates. Served from cache until a write changes them.',
    resolve: (_root, _args, { services }) => services.stats.current(),
  }),
);

builder.subscriptionField('statsChanged', (t) =>
  t.field({
    type: DashboardStats,
    description:
      'The current aggregates at once, then each newer version. A slow client receives the newest version only.',
    args: {
      minIntervalMs: t.arg.int({
        description: 'Send at most one update per this many milliseconds (the newest one).',
      }),
    },
    subscribe: (_root, args, { services }) => {
      const minIntervalMs = args.minIntervalMs ?? 0;
      if (minIntervalMs < 0 || minIntervalMs > MAX_MIN_INTERVAL_MS) {
        throw badUserInput(
          `"minIntervalMs" must be between 0 and ${MAX_MIN_INTERVAL_MS}`,
          'minIntervalMs',
        );
      }
      return services.stats.subscribe({ minIntervalMs });
    },
    resolve: (snapshot, _args, context) => {
      // A subscription's context lives as long as the subscription: loaders
      // memoized for an earlier event would serve rows that have since changed.
      context.loaders = createLoaders(context.services.db);
      return snapshot;
    },
  }),
);
