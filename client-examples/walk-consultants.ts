/**
 * Walks every page of the `consultants` connection with @urql/core (100 a
 * page, following `endCursor` until `hasNextPage` is false) and checks that
 * the number of consultants seen equals the API's `totalCount`.
 *
 *   npx tsx client-examples/walk-consultants.ts [--url URL] [--search TEXT] [--availability A,B]
 *
 * Exit code: 0 when the counts match, 1 when they do not or on any error.
 */
import { Client, type CombinedError, fetchExchange, type OperationResult } from '@urql/core';
import { graphql, type ResultOf, type VariablesOf } from './graphql.js';
import {
  authHeaders,
  describeError,
  fail,
  formatDuration,
  onInterrupt,
  parseFlags,
  parseHttpUrl,
  usageError,
} from './shared.js';

const USAGE =
  'npx tsx client-examples/walk-consultants.ts [--url URL] [--search TEXT] [--availability AVAILABLE,ON_MISSION,UNAVAILABLE]';
const PAGE_SIZE = 100;

const CONSULTANTS_PAGE = graphql(`
  query WalkConsultants($first: Int!, $after: String, $filter: ConsultantFilter) {
    consultants(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
        }
      }
    }
  }
`);

type ConsultantsPage = ResultOf<typeof CONSULTANTS_PAGE>;
/** The schema's `Availability` enum, as the filter takes it. */
type Availability = NonNullable<
  NonNullable<VariablesOf<typeof CONSULTANTS_PAGE>['filter']>['availability']
>[number];
const AVAILABILITIES = [
  'AVAILABLE',
  'ON_MISSION',
  'UNAVAILABLE',
] as const satisfies readonly Availability[];

const flags = parseFlags(USAGE, {
  url: { type: 'string' },
  search: { type: 'string' },
  availability: { type: 'string' },
});
const url = parseHttpUrl(USAGE, flags.url);
const availability = parseAvailability(flags.availability);
const filter = {
  ...(flags.search !== undefined ? { search: flags.search } : {}),
  ...(availability ? { availability } : {}),
};

const client = new Client({
  url: url.href,
  exchanges: [fetchExchange],
  // Every page is a fresh read: nothing to gain from a document cache here.
  requestPolicy: 'network-only',
  fetchOptions: () => ({ headers: authHeaders() }),
});

const seen = new Set<string>();
let pages = 0;
let duplicates = 0;
let firstTotal: number | null = null;
let lastTotal: number | null = null;

onInterrupt(() => {
  console.log(`\ninterrupted after ${pages} page(s), ${seen.size} consultant(s) seen`);
});

const started = performance.now();
let lastProgress = 0;
console.log(
  `walking consultants at ${url.href}` +
    (Object.keys(filter).length ? ` with filter ${JSON.stringify(filter)}` : '') +
    `, ${PAGE_SIZE} a page`,
);

let after: string | null = null;
for (;;) {
  const pageStarted = performance.now();
  const result: OperationResult<ConsultantsPage> = await client
    .query(CONSULTANTS_PAGE, {
      first: PAGE_SIZE,
      after,
      filter: Object.keys(filter).length ? filter : null,
    })
    .toPromise();
  if (result.error) fail(describeCombinedError(result.error, pages + 1));
  const connection: NonNullable<ConsultantsPage['consultants']> | null | undefined =
    result.data?.consultants;
  if (!connection) fail(`page ${pages + 1}: the response has no consultants connection`);

  pages += 1;
  for (const { node } of connection.edges) {
    if (seen.has(node.id)) duplicates += 1;
    else seen.add(node.id);
  }
  firstTotal ??= connection.totalCount;
  lastTotal = connection.totalCount;

  const { hasNextPage, endCursor } = connection.pageInfo;
  const now = performance.now();
  // One line a page, at most five a second on long walks; always the last one.
  if (!hasNextPage || pages === 1 || now - lastProgress >= 200) {
    lastProgress = now;
    console.log(
      `page ${String(pages).padStart(4)}: +${String(connection.edges.length).padStart(3)}` +
        `  ${seen.size}/${lastTotal ?? '?'}  ${Math.round(now - pageStarted)} ms`,
    );
  }
  if (!hasNextPage) break;
  if (!endCursor) fail(`page ${pages}: hasNextPage is true but endCursor is null`);
  if (connection.edges.length === 0)
    fail(`page ${pages}: hasNextPage is true but the page is empty`);
  after = endCursor;
}

const elapsed = performance.now() - started;
const matches = lastTotal !== null && seen.size === lastTotal && duplicates === 0;
console.log(`consultants seen: ${seen.size}${duplicates ? ` (+${duplicates} duplicate(s))` : ''}`);
console.log(`pages:            ${pages}`);
console.log(
  `totalCount:       ${lastTotal ?? 'null'}` +
    (firstTotal !== lastTotal
      ? ` (was ${firstTotal} on the first page: data changed during the walk)`
      : ''),
);
console.log(`match:            ${matches ? 'yes' : 'NO'}`);
console.log(
  `elapsed:          ${formatDuration(elapsed)} (${Math.round(seen.size / (elapsed / 1000))} consultants/s)`,
);
process.exit(matches ? 0 : 1);

function parseAvailability(value: string | undefined): Availability[] | undefined {
  if (value === undefined) return undefined;
  const list = value
    .split(',')
    .map((v) => v.trim().toUpperCase())
    .filter(Boolean);
  const wrong = list.filter((v) => !(AVAILABILITIES as readonly string[]).includes(v));
  if (list.length === 0 || wrong.length > 0) {
    return usageError(
      USAGE,
      `--availability: expected a comma-separated list of ${AVAILABILITIES.join(', ')}, got "${value}"`,
    );
  }
  return list as Availability[];
}

function describeCombinedError(error: CombinedError, page: number): string {
  if (error.networkError) {
    return `page ${page}: cannot query ${url.href}: ${describeError(error.networkError)}`;
  }
  const details = error.graphQLErrors.map((e) => {
    const code = e.extensions?.code;
    return typeof code === 'string' ? `${e.message} [${code}]` : e.message;
  });
  return `page ${page}: ${details.join('; ') || error.message}`;
}
