import { expect } from 'vitest';
import type { AnyData, GraphQLErrorJson, QueryResult } from './server.js';

/** Relay global ID as the API builds it: base64 of `Type:id`. */
export function globalId(typename: string, id: number | string): string {
  return Buffer.from(`${typename}:${id}`).toString('base64');
}

export function parseGlobalId(id: string): { typename: string; id: string } {
  const decoded = Buffer.from(id, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  return { typename: decoded.slice(0, separator), id: decoded.slice(separator + 1) };
}

/** The database id behind a global ID, checking its type. */
export function databaseId(id: string, typename: string): number {
  const parsed = parseGlobalId(id);
  expect(parsed.typename, `global ID ${id}`).toBe(typename);
  return Number(parsed.id);
}

/** Asserts a successful answer (HTTP 200, no errors) and returns its data. */
export function expectData<T = AnyData>(result: QueryResult<T>): T {
  expect(
    result.body.errors,
    `unexpected errors: ${JSON.stringify(result.body.errors, null, 2)}`,
  ).toBeUndefined();
  expect(result.status).toBe(200);
  expect(result.body.data).toBeTruthy();
  return result.body.data as T;
}

/** Asserts exactly one error and returns it. */
export function expectOneError(result: QueryResult): GraphQLErrorJson {
  const errors = result.body.errors ?? [];
  expect(errors, `expected one error in ${result.text}`).toHaveLength(1);
  return errors[0] as GraphQLErrorJson;
}

/** A cursor as the API encodes them (base64url JSON), for tampering tests. */
export function encodeCursorJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursorJson(cursor: string): unknown {
  return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
}
