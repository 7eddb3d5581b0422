import { encodeCursor } from '../../src/schema/pagination.js';
import { withClient } from '../lib/database.js';
import {
  createLatencyHistogram,
  type LatencySummary,
  postGraphQL,
  recordMs,
  summarize,
  timeMs,
} from '../lib/measure.js';
import { countApiStatements, type ServerProcess } from '../lib/processes.js';
import { fmtMs, fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';

/** The nested page of the issue: practice, skills, missions and the current mission per consultant. */
export const NESTED_PAGE_QUERY = /* GraphQL */ `
  query ConsultantsPage($first: Int!, $after: String) {
    consultants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          fullName
          practice { name }
          skills { level skill { name } }
          missions(first: 3) { edges { node { title status } } }
          currentMission { title client }
        }
      }
    }
  }
`;

const SEARCH_QUERY = /* GraphQL */ `
  query Search($search: String!) {
    consultants(first: 20, filter: { search: $search }) {
      edges { node { id fullName email } }
    }
  }
`;

/**
 * SQL statements the API sends for one nested page at each size, read from
 * its own counter. Each size is asked once first, so the cross-request
 * caches (practices, skills lists) are in the state a busy server has.
 */
export async function measureStatementsPerPage(
  api: ServerProcess,
  consultants: number,
): Promise<MetricResult> {
  const counts: Record<string, number> = {};
  for (const first of [10, 50, 100]) {
    await postGraphQL(api.graphqlUrl, NESTED_PAGE_QUERY, { first });
    counts[first] = await countApiStatements(api, () =>
      postGraphQL(api.graphqlUrl, NESTED_PAGE_QUERY, { first }),
    );
  }
  const values = Object.values(counts);
  const constant = values.every((count) => count === values[0]);
  // "Small": one statement per level of nesting at most (page, practices, skills, missions, current mission, totalCount).
  const small = values.every((count) => count <= 6);
  return {
    id: 'statements_per_page',
    metric:
      'SQL statements per consultants page (practice, skills, missions, currentMission), first = 10 / 50 / 100',
    value: `${counts[10]} / ${counts[50]} / ${counts[100]}`,
    target: 'the same small constant (≤ 6)',
    verdict: verdict(constant && small),
    conditions: `${consultants.toLocaleString('en-US')} consultants; counted by the API's own statement counter (/metrics), scrape cost subtracted`,
    data: counts,
  };
}

async function cursorAtRow(databaseUrl: string, row: number): Promise<string> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ last_name: string; id: number }>(
      'SELECT last_name, id FROM consultants ORDER BY last_name, id OFFSET $1 LIMIT 1',
      [row - 1],
    );
    const position = rows[0];
    if (!position) throw new Error(`no consultant at row ${row}`);
    return encodeCursor('LAST_NAME', position.last_name, Number(position.id));
  });
}

/**
 * p99 of the nested page (first: 50) from the start and after a cursor at
 * 90% of the table, one request at a time, alternating the two so any drift
 * of the machine hits both alike.
 */
export async function measureDeepCursor(
  api: ServerProcess,
  databaseUrl: string,
  consultants: number,
  samples: number,
): Promise<{ metric: MetricResult; first: LatencySummary; deep: LatencySummary }> {
  const row = Math.max(1, Math.round(consultants * 0.9));
  const after = await cursorAtRow(databaseUrl, row);
  const firstPage = createLatencyHistogram();
  const deepPage = createLatencyHistogram();
  const ask = (cursor: string | undefined) =>
    postGraphQL(api.graphqlUrl, NESTED_PAGE_QUERY, { first: 50, after: cursor });
  for (let i = 0; i < 10; i += 1) {
    await ask(undefined);
    await ask(after);
  }
  for (let i = 0; i < samples; i += 1) {
    recordMs(firstPage, await timeMs(() => ask(undefined)));
    recordMs(deepPage, await timeMs(() => ask(after)));
  }
  const first = summarize(firstPage);
  const deep = summarize(deepPage);
  const ratio = deep.p99 / first.p99;
  return {
    first,
    deep,
    metric: {
      id: 'deep_cursor_p99_ratio',
      metric: `consultants page p99, cursor at row ${row.toLocaleString('en-US')} vs first page`,
      value: `${fmtRatio(ratio)} (${fmtMs(deep.p99)} vs ${fmtMs(first.p99)})`,
      target: 'ratio ≤ 1.5',
      verdict: verdict(ratio <= 1.5),
      conditions: `first: 50 nested, ${samples} requests each, one at a time, alternating; p50 ${fmtMs(deep.p50)} vs ${fmtMs(first.p50)}`,
      data: { row, ratio, first, deep },
    },
  };
}

/** Distinct 4-letter fragments of real names: each search misses the search cache, as a user typing would. */
async function searchTerms(
  databaseUrl: string,
  consultants: number,
  count: number,
): Promise<string[]> {
  return withClient(databaseUrl, async (client) => {
    const ids = Array.from({ length: count * 3 }, (_, i) => 1 + ((i * 7_919 + 13) % consultants));
    const { rows } = await client.query<{ first_name: string; last_name: string }>(
      'SELECT first_name, last_name FROM consultants WHERE id = ANY($1::int[])',
      [ids],
    );
    const terms = new Set<string>();
    rows.forEach((r, i) => {
      const name = (i % 2 === 0 ? r.last_name : r.first_name).toLowerCase();
      const start = name.length > 4 ? i % (name.length - 3) : 0;
      const term = name.slice(start, start + 4);
      if (term.trim().length >= 3) terms.add(term);
    });
    return [...terms].slice(0, count);
  });
}

/** p95 of name searches, each with a different fragment, one at a time. */
export async function measureSearch(
  api: ServerProcess,
  databaseUrl: string,
  consultants: number,
  samples: number,
): Promise<MetricResult> {
  const terms = await searchTerms(databaseUrl, consultants, samples + 10);
  const histogram = createLatencyHistogram();
  for (const [i, search] of terms.entries()) {
    const ms = await timeMs(() => postGraphQL(api.graphqlUrl, SEARCH_QUERY, { search }));
    if (i >= 10) recordMs(histogram, ms);
  }
  const summary = summarize(histogram);
  return {
    id: 'search_p95',
    metric: `name search on ${consultants.toLocaleString('en-US')} consultants, p95`,
    value: fmtMs(summary.p95),
    target: '≤ 20 ms',
    verdict: verdict(summary.p95 <= 20),
    conditions: `${summary.count} distinct 3–4 letter fragments of real names (cache misses), first: 20, ordered by id (the default order of a search), one at a time; p50 ${fmtMs(summary.p50)}, max ${fmtMs(summary.max)}`,
    data: { ...summary },
  };
}
