import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './reference/practice.js';
import './mission/mission.js';
import './consultant/consultant.js';
import './stats/stats.js';

/** Builds the executable schema; types register themselves through the imports above. */
export function buildSchema() {
  return builder.toSchema({ sortSchema: false });
}

export function printableSchema() {
  return lexicographicSortSchema(buildSchema());
}
