import { DateTimeResolver, JSONResolver, LocalDateResolver } from 'graphql-scalars';
import { builder } from './builder.js';

builder.addScalarType('DateTime', DateTimeResolver, {});
builder.addScalarType('JSON', JSONResolver, {});
builder.addScalarType('Date', LocalDateResolver, {
  description: 'A calendar date, `YYYY-MM-DD`.',
});

export const SortDirection = builder.enumType('SortDirection', {
  values: ['ASC', 'DESC'] as const,
});
