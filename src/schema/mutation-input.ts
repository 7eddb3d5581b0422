import { Problems } from './validation.js';

/**
 * Decodes a global ID argument of a mutation into a database id, reporting
 * a wrong type or a malformed id as a field problem rather than a GraphQL
 * error, so the client gets every problem of its input at once.
 */
export function databaseIdOf(
  problems: Problems,
  path: string[],
  globalId: { typename: string; id: string },
  typename: string,
): number | undefined {
  if (globalId.typename !== typename) {
    problems.add(path, 'INVALID', `expects a ${typename} id, got a ${globalId.typename} id`);
    return undefined;
  }
  const value = Number(globalId.id);
  const max = typename === 'Mission' ? Number.MAX_SAFE_INTEGER : 2_147_483_647;
  if (!Number.isSafeInteger(value) || value <= 0 || value > max || String(value) !== globalId.id) {
    problems.add(path, 'INVALID', 'is not a valid record id');
    return undefined;
  }
  return value;
}

/** Names of the input fields a client actually sent (null counts: it asks to clear). */
export function sentFields(input: Record<string, unknown>): string[] {
  return Object.keys(input).filter((key) => input[key] !== undefined);
}

/** A PostgreSQL error code, whether the driver error arrives bare or wrapped by drizzle. */
export function postgresErrorOf(error: unknown): { code?: string; constraint?: string } {
  const candidate = error as { code?: string; constraint?: string; cause?: unknown };
  if (candidate?.code) return candidate;
  const cause = candidate?.cause as { code?: string; constraint?: string } | undefined;
  return cause?.code ? cause : {};
}

export { Problems };
