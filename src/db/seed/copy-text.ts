/**
 * Helpers that write PostgreSQL COPY text format quickly. `Date#toISOString`
 * and per-field escaping are the hot spots of a ten-million-row load, so
 * dates come from a lookup table and strings are escaped once, when the pools
 * are built.
 */

export const DAY_MS = 86_400_000;

/** The `\N` that COPY text format reads as NULL. */
export const COPY_NULL = '\\N';

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Escapes a value for a COPY text column (backslash, tab and line breaks are special). */
export function escapeCopyText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value
    .replaceAll('\\', '\\\\')
    .replaceAll('\t', '\\t')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r');
}

/**
 * Lowercase ASCII for email local parts: accents dropped, ligatures spelled
 * out, apostrophes and spaces removed, hyphens kept ("D’Aubigné" → "daubigne").
 */
export function emailSlug(value: string): string {
  return foldToAscii(value)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '');
}

/** ASCII letters, digits and hyphens for file names, case kept ("Da Silva" → "DaSilva"). */
export function fileSlug(value: string): string {
  return foldToAscii(value).replace(/[^A-Za-z0-9-]+/g, '');
}

function foldToAscii(value: string): string {
  return value
    .replaceAll('œ', 'oe')
    .replaceAll('Œ', 'Oe')
    .replaceAll('æ', 'ae')
    .replaceAll('Æ', 'Ae')
    .normalize('NFD')
    .replace(/\p{M}/gu, '');
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));

/**
 * Day strings for a window of days around a reference date, so formatting a
 * date or timestamp is a table lookup and a few concatenations.
 */
export class Calendar {
  /** Days since the Unix epoch of the reference date (UTC). */
  readonly referenceDay: number;
  /** The reference instant in milliseconds since the epoch. */
  readonly referenceMs: number;
  private readonly firstDay: number;
  private readonly days: string[];

  constructor(referenceDate: Date, yearsBefore: number, yearsAfter: number) {
    this.referenceMs = referenceDate.getTime();
    this.referenceDay = Math.floor(this.referenceMs / DAY_MS);
    this.firstDay = this.referenceDay - Math.ceil(yearsBefore * 366);
    const lastDay = this.referenceDay + Math.ceil(yearsAfter * 366);
    this.days = [];
    for (let day = this.firstDay; day <= lastDay; day += 1) {
      this.days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
    }
  }

  /** `YYYY-MM-DD` of a day number (days since the epoch). */
  date(day: number): string {
    const text = this.days[day - this.firstDay];
    if (text === undefined) throw new RangeError(`day ${day} is outside the seed calendar`);
    return text;
  }

  /** A `timestamptz` literal in UTC for milliseconds since the epoch. */
  timestamp(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    let rest = ms - day * DAY_MS;
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    return `${this.date(day)} ${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[millis]}+00`;
  }
}

/**
 * Size of the text chunks handed to the COPY stream: big enough that stream
 * overhead vanishes, small enough that backpressure keeps memory flat.
 */
export const COPY_CHUNK_CHARS = 256 * 1024;
