import { GraphQLError, type GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { DateTimeResolver, JSONResolver, LocalDateResolver } from 'graphql-scalars';
import { builder } from './builder.js';
import { ErrorCode } from './errors.js';
import { isIsoDate } from './pagination.js';

/**
 * A library scalar whose parsed input must also pass `accepts`: what
 * graphql-scalars lets through (year 0000, years past 9999) PostgreSQL
 * cannot store, and a value that reaches it fails the statement as an
 * internal error. Refused here, it is a coercion error of the argument
 * (BAD_USER_INPUT), before any resolver runs.
 */
function bounded<T>(
  scalar: GraphQLScalarType<T, unknown>,
  accepts: (value: T) => boolean,
  rule: string,
): Pick<GraphQLScalarType<T, unknown>, 'parseValue' | 'parseLiteral'> {
  const check = (value: T, shown: unknown, node?: ValueNode): T => {
    if (!accepts(value)) {
      throw new GraphQLError(`${JSON.stringify(shown)} is out of range: ${rule}.`, {
        nodes: node,
        extensions: { code: ErrorCode.BadUserInput },
      });
    }
    return value;
  };
  return {
    parseValue: (value) => check(scalar.parseValue(value), value),
    parseLiteral: (node: ValueNode, variables?: Record<string, unknown> | null) =>
      check(
        scalar.parseLiteral(node, variables),
        node.kind === Kind.STRING ? node.value : undefined,
        node,
      ),
  };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

builder.addScalarType('DateTime', DateTimeResolver, {
  ...bounded<Date>(
    DateTimeResolver as GraphQLScalarType<Date, unknown>,
    (value) => value.getTime() >= FIRST_INSTANT && value.getTime() <= LAST_INSTANT,
    'years 0001 to 9999',
  ),
});
builder.addScalarType('JSON', JSONResolver, {});
builder.addScalarType('Date', LocalDateResolver, {
  description: 'A calendar date, `YYYY-MM-DD`, from 0001-01-01 to 9999-12-31.',
  ...bounded<string>(
    LocalDateResolver as GraphQLScalarType<string, unknown>,
    isIsoDate,
    'from 0001-01-01 to 9999-12-31',
  ),
  // Output values come from PostgreSQL `date` columns, which the driver hands
  // over as ISO strings: re-validating each one was a visible share of a
  // page's CPU profile. Anything else still goes through the full check.
  serialize: (value) =>
    typeof value === 'string' && ISO_DATE.test(value) ? value : LocalDateResolver.serialize(value),
});

export const SortDirection = builder.enumType('SortDirection', {
  values: ['ASC', 'DESC'] as const,
});
