/** Subscriptions resolve to an async iterable of results; queries and mutations to one result. */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
