import type { ExecutionResult } from 'graphql';

/** A result as graphql-yoga serializes it: with its own serializer when it brings one. */
export type SerializableResult = ExecutionResult & {
  stringify?: (result: ExecutionResult) => string;
};

/**
 * `result` if its JSON takes at most `limitBytes` (UTF-8), else undefined.
 *
 * Measuring means serializing, so the JSON made here is handed on: a
 * result without errors or extensions (what no later hook rewrites: error
 * masking and error codes only touch errors) carries it as its yoga
 * `stringify`, and the HTTP response is written from it instead of being
 * serialized a second time. Should anything have changed the result on
 * the way, the serializer sees it and serializes afresh.
 */
export function withinResponseSize(
  result: ExecutionResult,
  limitBytes: number,
): SerializableResult | undefined {
  const json = JSON.stringify(result);
  if (Buffer.byteLength(json) > limitBytes) return undefined;
  if (result.errors !== undefined || result.extensions !== undefined) return result;
  const { data } = result;
  return {
    data,
    stringify: (serialized) =>
      serialized.data === data &&
      serialized.errors === undefined &&
      serialized.extensions === undefined
        ? json
        : JSON.stringify(serialized),
  };
}
