import { badUserInput } from './errors.js';

// Every id column but missions' is a 4-byte serial; missions' bigint ids stay below 2^53 in practice.
const MAX_ID = { int: 2_147_483_647, bigint: Number.MAX_SAFE_INTEGER } as const;

/** Database ids are positive integers; anything else in a well-formed global ID is a client error. */
export function toDatabaseId(
  id: string | number,
  argument = 'id',
  kind: keyof typeof MAX_ID = 'int',
): number {
  const value = typeof id === 'number' ? id : Number(id);
  if (
    !Number.isSafeInteger(value) ||
    value <= 0 ||
    value > MAX_ID[kind] ||
    String(value) !== String(id)
  ) {
    throw badUserInput(`"${argument}" does not refer to a valid record id`, argument);
  }
  return value;
}

/** Checks that a decoded global ID names the expected type, then returns its database id. */
export function idOfType(
  globalId: { typename: string; id: string },
  typename: string,
  argument: string,
): number {
  if (globalId.typename !== typename) {
    throw badUserInput(
      `"${argument}" expects ${typename} ids, got a ${globalId.typename} id`,
      argument,
    );
  }
  return toDatabaseId(globalId.id, argument, typename === 'Mission' ? 'bigint' : 'int');
}
