import { cachedPractices } from '../../cache/index.js';
import { listSkills } from '../../db/queries/reference.js';
import type { PracticeRow, SkillRow } from '../../db/schema/index.js';
import { builder } from '../builder.js';
import { toDatabaseId } from '../ids.js';

export const Practice = builder.objectRef<PracticeRow>('Practice');
builder.node(Practice, {
  description: 'A business unit of the consultancy (e.g. Data & AI).',
  id: { resolve: (practice) => practice.id },
  loadMany: (ids, { loaders }) => ids.map((id) => loaders.practice.load(toDatabaseId(id))),
  fields: (t) => ({
    name: t.exposeString('name'),
  }),
});

export const Skill = builder.objectRef<SkillRow>('Skill');
builder.node(Skill, {
  id: { resolve: (skill) => skill.id },
  loadMany: (ids, { loaders }) => ids.map((id) => loaders.skill.load(toDatabaseId(id))),
  fields: (t) => ({
    name: t.exposeString('name'),
    category: t.exposeString('category'),
  }),
});

builder.queryFields((t) => ({
  practices: t.field({
    type: [Practice],
    description: 'Every practice, by name.',
    resolve: (_root, _args, { services }) => cachedPractices(services.caches, services.db),
  }),
  skills: t.field({
    type: [Skill],
    description: 'Every skill, by category then name.',
    args: { category: t.arg.string({ description: 'Only skills of this category.' }) },
    // A NUL in the category never gets here: see use-text-input-check.ts.
    resolve: (_root, args, { services }) => {
      return services.caches.reference.getOrLoad(`skills:${args.category ?? ''}`, ['skills'], () =>
        listSkills(services.db, args.category),
      ) as Promise<SkillRow[]>;
    },
  }),
}));
