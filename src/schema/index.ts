import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './reference/practice.js';
import './mission/mission.js';
import './consultant/consultant.js';
import './stats/stats.js';
import './validation.js';
import './consultant/mutations.js';
import './mission/mutations.js';
import './audit/audit.js';
import './tasks/tasks.js';
import './reports/utilization.js';

/** Builds the executable schema; types register themselves through the imports above. */
export function buildSchema() {
  return builder.toSchema({ sortSchema: false });
}

export function printableSchema() {
  return lexicographicSortSchema(buildSchema());
}
