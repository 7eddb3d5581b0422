import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/db/client.js';
import {
  type ConsultantFilter,
  filterConditions,
  SEARCH_WALK_COLUMNS,
} from '../src/db/queries/consultants.js';
import {
  type KeysetPageOptions,
  type PageWindow,
  type SortDirection,
  selectKeysetPage,
} from '../src/db/queries/keyset.js';
import { consultants } from '../src/db/schema/index.js';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';

// The bounded walk of a search page (src/db/queries/keyset.ts) must return
// exactly what the plain keyset query returns, whichever of its two plans
// answers: the walk alone (walk long enough), the fallback (walk of one
// row), or a mix across pages. The seeded set is small, so short walks are
// what make the fallback run here.

const dispose = disposeAfterAll();
let pool: pg.Pool;
let db: Database;
let databaseUrl: string;

beforeAll(async () => {
  const database = await createTestDatabase();
  databaseUrl = database.url;
  dispose.add(() => database.drop());
  pool = createTestPool(database.url);
  dispose.add(() => pool.end());
  db = createDatabase(pool);
});
afterAll(() => dispose.run());

interface Walked {
  ids: number[];
  /** hasNextPage / hasPreviousPage of every page, in order. */
  flags: string[];
}

/** Every page of a filter, forward (first/after) or backward (last/before), 4 rows a page. */
async function walkAllPages(
  filter: ConsultantFilter,
  direction: SortDirection,
  backward: boolean,
  options: KeysetPageOptions,
  order: 'LAST_NAME' | 'ID' = 'LAST_NAME',
): Promise<Walked> {
  const ids: number[] = [];
  const flags: string[] = [];
  let cursor: { value: string | number; id: number } | null = null;
  for (let page = 0; page < 100; page += 1) {
    const window: PageWindow<string | number> = {
      limit: 4,
      backward,
      after: backward ? null : cursor,
      before: backward ? cursor : null,
    };
    const result = await selectKeysetPage(
      db,
      consultants,
      filterConditions(filter),
      {
        orderColumn: order === 'ID' ? consultants.id : consultants.lastName,
        idColumn: consultants.id,
        valueType: order === 'ID' ? 'integer' : 'text',
        direction,
        window,
      },
      options,
    );
    const rows = backward ? [...result.rows].reverse() : result.rows;
    ids.push(...rows.map((row) => row.id));
    flags.push(`${result.hasNextPage}/${result.hasPreviousPage}`);
    const last = rows.at(-1);
    const more = backward ? result.hasPreviousPage : result.hasNextPage;
    if (!last || !more) return { ids, flags };
    cursor = { value: order === 'ID' ? last.id : last.lastName, id: last.id };
  }
  throw new Error('more than 100 pages');
}

async function searchFragments(): Promise<string[]> {
  // A frequent one, one from late in the alphabet, a single match, and none.
  const { rows } = await pool.query<{ last_name: string }>(
    'SELECT last_name FROM consultants ORDER BY last_name DESC, id DESC LIMIT 1',
  );
  const lastName = rows[0]?.last_name ?? 'z';
  const { rows: emails } = await pool.query<{ email: string }>(
    'SELECT email FROM consultants ORDER BY id LIMIT 1',
  );
  return ['e', 'an', lastName.slice(0, 3).toLowerCase(), emails[0]?.email ?? 'x', 'no such name'];
}

describe('search pages by a bounded walk of the last-name index or of the table by id', () => {
  it.each(['LAST_NAME', 'ID'] as const)(
    'give the same pages and page flags as the plain query, whichever plan answers (%s)',
    async (order) => {
      const fragments = await searchFragments();
      const filters: ConsultantFilter[] = fragments.flatMap((search) => [
        { search },
        { search, availability: ['AVAILABLE', 'ON_MISSION'] },
        { search, practiceIds: [1, 2, 3] },
        { search, skillIds: [1] },
      ]);
      let compared = 0;
      let nonEmpty = 0;
      for (const filter of filters) {
        for (const direction of ['ASC', 'DESC'] as const) {
          for (const backward of [false, true]) {
            const expected = await walkAllPages(filter, direction, backward, {}, order);
            if (expected.ids.length > 0) nonEmpty += 1;
            for (const rows of [1, 3, 10_000]) {
              const actual = await walkAllPages(
                filter,
                direction,
                backward,
                { boundedWalk: { columns: SEARCH_WALK_COLUMNS, rows } },
                order,
              );
              expect(
                actual,
                `${JSON.stringify(filter)} ${direction} backward=${backward} walk=${rows}`,
              ).toEqual(expected);
              compared += 1;
            }
          }
        }
      }
      expect(compared).toBe(filters.length * 2 * 2 * 3);
      // The comparison means something only if most filters match rows, over several pages.
      expect(nonEmpty).toBeGreaterThan(filters.length * 2);
    },
    // Hundreds of page reads: bounded generously, so a busy machine slows it without failing it.
    120_000,
  );

  it('runs the fallback only when the walk comes up short', async () => {
    // The statements as sent, to EXPLAIN them with their parameters.
    const sent: { text: string; values: unknown[] }[] = [];
    class RecordingClient extends pg.Client {
      // biome-ignore lint/suspicious/noExplicitAny: pg.Client.query has many overloads; this forwards them.
      override query(...args: any[]): any {
        const [first, second] = args;
        if (typeof first === 'string') sent.push({ text: first, values: second ?? [] });
        else if (first?.text) sent.push({ text: first.text, values: first.values ?? second ?? [] });
        // biome-ignore lint/suspicious/noExplicitAny: see above.
        return (super.query as any)(...args);
      }
    }
    const recording = new pg.Pool({
      connectionString: databaseUrl,
      max: 1,
      Client: RecordingClient,
    });
    recording.on('error', () => {});
    dispose.add(() => recording.end());
    const recordingDb = createDatabase(recording);

    /** Loops of the fallback's trigram scan when the page is read with a walk of `rows`. */
    async function fallbackLoops(rows: number): Promise<number> {
      sent.length = 0;
      await selectKeysetPage(
        recordingDb,
        consultants,
        filterConditions({ search: 'e' }),
        {
          orderColumn: consultants.lastName,
          idColumn: consultants.id,
          valueType: 'text',
          direction: 'ASC',
          window: { limit: 4, backward: false, after: null, before: null },
        },
        { boundedWalk: { columns: SEARCH_WALK_COLUMNS, rows } },
      );
      expect(sent).toHaveLength(1);
      const [statement] = sent;
      const { rows: plan } = await pool.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${statement?.text}`,
        statement?.values,
      );
      // Scans of consultants inside the fallback's subtree: never executed (0 loops) or run.
      const loops: number[] = [];
      const visit = (node: Record<string, unknown>, inFallback: boolean) => {
        const here = inFallback || node.Alias === 'fallback';
        if (here && node['Relation Name'] === 'consultants')
          loops.push(Number(node['Actual Loops']));
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) {
          visit(child, here);
        }
      };
      const explained = plan[0]?.['QUERY PLAN'] as { Plan: Record<string, unknown> }[] | undefined;
      visit(explained?.[0]?.Plan ?? {}, false);
      expect(loops.length, JSON.stringify(plan)).toBeGreaterThan(0);
      return Math.max(...loops);
    }

    // 'e' is in most names: a walk of the whole table fills the page by itself.
    expect(await fallbackLoops(10_000)).toBe(0);
    // A walk of one row cannot fill a page of four: the fallback answers.
    expect(await fallbackLoops(1)).toBe(1);
  });
});
