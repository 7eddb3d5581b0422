import type { KeysetPosition, PageResult, PageWindow } from '../db/queries/keyset.js';
import { badUserInput } from './errors.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

function checkSize(name: 'first' | 'last', size: number | null | undefined): void {
  if (size == null) return;
  if (size < 0) throw badUserInput(`"${name}" must not be negative (got ${size})`, name);
  if (size > MAX_PAGE_SIZE) {
    throw badUserInput(`"${name}" must be at most ${MAX_PAGE_SIZE} (got ${size})`, name);
  }
}

/**
 * Cursors are opaque to clients but must be checked: they are base64url JSON
 * `[sortKey, value, id]`, and the sort key must match the order the client
 * asked for, because a position in one order means nothing in another.
 */
export function encodeCursor(sortKey: string, value: unknown, id: number): string {
  return Buffer.from(JSON.stringify([sortKey, value, id])).toString('base64url');
}

export function decodeCursor<V>(
  cursor: string,
  sortKey: string,
  isValue: (value: unknown) => value is V,
  argument: string,
): KeysetPosition<V> {
  const invalid = () => badUserInput(`"${argument}" is not a valid cursor for this list`, argument);
  if (!/^[A-Za-z0-9_-]{1,1000}$/.test(cursor)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 3 ||
    decoded[0] !== sortKey ||
    !isValue(decoded[1]) ||
    !Number.isSafeInteger(decoded[2]) ||
    decoded[2] <= 0
  ) {
    throw invalid();
  }
  return { value: decoded[1], id: decoded[2] };
}

/** Validates Relay arguments and turns them into a keyset window. */
export function pageWindow<V>(
  args: ConnectionArgs,
  sortKey: string,
  isValue: (value: unknown) => value is V,
): PageWindow<V> {
  checkSize('first', args.first);
  checkSize('last', args.last);
  if (args.first != null && args.last != null) {
    throw badUserInput('Pass either "first" or "last", not both', 'last');
  }
  return {
    limit: args.last ?? args.first ?? DEFAULT_PAGE_SIZE,
    backward: args.last != null,
    after: args.after ? decodeCursor(args.after, sortKey, isValue, 'after') : null,
    before: args.before ? decodeCursor(args.before, sortKey, isValue, 'before') : null,
  };
}

// Cursor values end up as SQL parameters cast to the column's type: anything
// PostgreSQL would reject must be refused here, as the client's mistake.
const INT4_MAX = 2_147_483_647;
const hasNul = (value: string) => value.includes('\u0000');

export const isString = (value: unknown): value is string =>
  typeof value === 'string' && !hasNul(value);
export const isInteger = (value: unknown): value is number =>
  Number.isSafeInteger(value) && Math.abs(value as number) <= INT4_MAX;
// Four-digit years from 0001: PostgreSQL has no year 0 (0000-01-01 is out of range).
export const isIsoDate = (value: unknown): value is string =>
  typeof value === 'string' &&
  /^\d{4}-\d{2}-\d{2}$/.test(value) &&
  value >= '0001-01-01' &&
  !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) &&
  new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
export const isIsoTimestamp = (value: unknown): value is string =>
  typeof value === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value) &&
  !Number.isNaN(Date.parse(value)) &&
  new Date(value).toISOString() === value;

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

/**
 * What a connection resolver returns in place of a page when the request
 * reads neither edges nor pageInfo (a `totalCount`-only request): no page
 * query runs for it.
 */
export const UNREAD_PAGE: PageResult<never> = Object.freeze({
  rows: [],
  hasNextPage: false,
  hasPreviousPage: false,
}) as PageResult<never>;

/**
 * An edge whose cursor is encoded when a client reads it, not before: most
 * requests read `pageInfo.endCursor` and no edge's cursor, and encoding is
 * a JSON + base64 round per row.
 */
class LazyCursorEdge<T> {
  constructor(
    readonly node: T,
    private readonly cursorOf: (row: T) => string,
  ) {}

  get cursor(): string {
    return this.cursorOf(this.node);
  }
}

/** pageInfo with its two cursors encoded on demand, like the edges'. */
class LazyPageInfo<T> {
  constructor(
    private readonly page: PageResult<T>,
    private readonly cursorOf: (row: T) => string,
  ) {}

  get hasNextPage(): boolean {
    return this.page.hasNextPage;
  }

  get hasPreviousPage(): boolean {
    return this.page.hasPreviousPage;
  }

  get startCursor(): string | null {
    const first = this.page.rows[0];
    return first === undefined ? null : this.cursorOf(first);
  }

  get endCursor(): string | null {
    const last = this.page.rows.at(-1);
    return last === undefined ? null : this.cursorOf(last);
  }
}

/** Shapes a page into the Relay connection the schema returns. */
export function toConnection<T>(page: PageResult<T>, cursorOf: (row: T) => string): Connection<T> {
  return {
    edges: page.rows.map((node) => new LazyCursorEdge(node, cursorOf)),
    pageInfo: new LazyPageInfo(page, cursorOf),
  };
}
