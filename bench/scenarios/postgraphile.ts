import autocannon from 'autocannon';
import { encodeCursor } from '../../src/schema/pagination.js';
import { withClient } from '../lib/database.js';
import { type GraphQLResponse, postGraphQL } from '../lib/measure.js';
import { processCpuMs, type ServerProcess, startPostGraphile } from '../lib/processes.js';
import { fmtMs, fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';

/**
 * The nested page both servers answer: 50 consultants by last name, each
 * with its practice's name, its skills (level + skill name) and its latest
 * 3 missions (client, title, start date); no totalCount.
 */
export const READ_PAGE_QUERY = /* GraphQL */ `
  query ConsultantsPage($first: Int!, $after: String) {
    consultants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          firstName
          lastName
          practice { name }
          skills { level skill { name } }
          missions(first: 3) { edges { node { client title startDate } } }
        }
      }
    }
  }
`;

/** The same page in PostGraphile 5's inflection (amber preset, simplified inflection). */
const POSTGRAPHILE_PAGE_QUERY = /* GraphQL */ `
  query ConsultantsPage($first: Int!, $after: Cursor) {
    consultants(first: $first, after: $after, orderBy: [LAST_NAME_ASC, ROW_ID_ASC]) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          firstName
          lastName
          practice { name }
          consultantSkills { nodes { level skill { name } } }
          missions(first: 3, orderBy: [START_DATE_DESC, ROW_ID_DESC]) {
            edges { node { client title startDate } }
          }
        }
      }
    }
  }
`;

const COUNT_QUERY = '{ consultants(first: 1) { totalCount } }';

type PageKind = 'first' | 'deep' | 'varying';

interface Position {
  lastName: string;
  id: number;
}

/** How one server is asked for a page from a position, and how its answer reads. */
interface Side {
  name: 'ours' | 'PostGraphile';
  server: ServerProcess;
  query: string;
  cursor(position: Position): string;
}

interface PageSummary {
  hasNextPage: boolean;
  consultants: {
    id: number;
    name: string;
    practice: string;
    skills: string[];
    missions: string[];
  }[];
}

/** Both servers' global ids carry the row id: ours as `Consultant:92`, PostGraphile's as `["Consultant",92]`. */
function rowIdOf(globalId: string): number {
  const decoded = Buffer.from(globalId, 'base64').toString('utf8');
  const match = /(\d+)\D*$/.exec(decoded);
  if (!match) throw new Error(`cannot read a row id from ${globalId}`);
  return Number(match[1]);
}

interface AnyNode {
  id: string;
  firstName: string;
  lastName: string;
  practice: { name: string };
  skills?: { level: number; skill: { name: string } }[];
  consultantSkills?: { nodes: { level: number; skill: { name: string } }[] };
  missions: { edges: { node: { client: string; title: string; startDate: string } }[] };
}

/** What must match between the two answers: consultants in order, their skills as a set, their missions in order. */
function summarize(body: GraphQLResponse): PageSummary {
  const connection = body.data?.consultants as {
    pageInfo: { hasNextPage: boolean };
    edges: { node: AnyNode }[];
  };
  return {
    hasNextPage: connection.pageInfo.hasNextPage,
    consultants: connection.edges.map(({ node }) => ({
      id: rowIdOf(node.id),
      name: `${node.firstName} ${node.lastName}`,
      practice: node.practice.name,
      // PostGraphile cannot order skills by level then name without a plugin: compare them as sets.
      skills: (node.skills ?? node.consultantSkills?.nodes ?? [])
        .map((s) => `${s.level} ${s.skill.name}`)
        .sort(),
      missions: node.missions.edges.map(({ node: m }) => `${m.startDate} ${m.client} / ${m.title}`),
    })),
  };
}

function bodyFor(side: Side, position: Position | null): string {
  const variables = position ? { first: 50, after: side.cursor(position) } : { first: 50 };
  return JSON.stringify({ query: side.query, variables });
}

interface LoadFigures {
  requests: number;
  requestsPerSecond: number;
  cpuMsPerRequest: number;
}

/** Drives one server for `seconds`, cycling through `bodies`, and reads its CPU time around the run. */
async function load(
  side: Side,
  bodies: string[],
  seconds: number,
  connections: number,
): Promise<LoadFigures> {
  let next = 0;
  const cpuBefore = processCpuMs(side.server.pid);
  const result = await autocannon({
    url: side.server.graphqlUrl,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => {
          const body = bodies[next % bodies.length];
          next += 1;
          return { ...request, body };
        },
      },
    ],
  });
  const cpuMs = processCpuMs(side.server.pid) - cpuBefore;
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(
      `${side.name}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`,
    );
  }
  const requests = result.requests.total;
  return {
    requests,
    requestsPerSecond: requests / seconds,
    cpuMsPerRequest: cpuMs / Math.max(1, requests),
  };
}

async function positions(databaseUrl: string, consultants: number, varying: number) {
  return withClient(databaseUrl, async (client) => {
    const deepRow = Math.max(1, Math.round(consultants * 0.9));
    const deep = await client.query<{ last_name: string; id: number }>(
      'SELECT last_name, id FROM consultants ORDER BY last_name, id OFFSET $1 LIMIT 1',
      [deepRow - 1],
    );
    const ids = Array.from({ length: varying }, (_, i) => 1 + ((i * 104_729 + 7) % consultants));
    const spread = await client.query<{ last_name: string; id: number }>(
      'SELECT last_name, id FROM consultants WHERE id = ANY($1::int[]) ORDER BY id',
      [ids],
    );
    const toPosition = (row: { last_name: string; id: number }) => ({
      lastName: row.last_name,
      id: Number(row.id),
    });
    const deepPosition = deep.rows[0];
    if (!deepPosition) throw new Error(`no consultant at row ${deepRow}`);
    return { deepRow, deep: toPosition(deepPosition), varying: spread.rows.map(toPosition) };
  });
}

export interface ComparisonOptions {
  seconds: number;
  rounds: number;
  connections: number;
  /** Distinct cursors the varying-cursor load cycles through. */
  cursors: number;
}

/**
 * Our nested page against PostGraphile 5's on the same database: first page,
 * a cursor at 90 % of the table, and a different cursor on every request.
 * Both answers are compared before anything is timed; the two servers then
 * take turns (alternating which goes first each round) under the same
 * autocannon load, and each one's CPU time is read from /proc around its
 * own runs.
 */
export async function measurePostGraphileComparison(
  api: ServerProcess,
  databaseUrl: string,
  consultants: number,
  options: ComparisonOptions,
): Promise<MetricResult[]> {
  const postgraphile = await startPostGraphile(databaseUrl);
  try {
    // PostGraphile's cursors are base64 JSON [order digest, sort value, id]: learn the digest from one.
    const probe = await postGraphQL(postgraphile.graphqlUrl, POSTGRAPHILE_PAGE_QUERY, {
      first: 1,
    });
    const probed = probe.data?.consultants as { pageInfo: { endCursor: string } } | undefined;
    if (!probed) throw new Error('PostGraphile returned no consultants');
    const endCursor = probed.pageInfo.endCursor;
    const [digest] = JSON.parse(Buffer.from(endCursor, 'base64').toString('utf8')) as [string];
    const sides: Side[] = [
      {
        name: 'ours',
        server: api,
        query: READ_PAGE_QUERY,
        cursor: (p) => encodeCursor('LAST_NAME', p.lastName, p.id),
      },
      {
        name: 'PostGraphile',
        server: postgraphile,
        query: POSTGRAPHILE_PAGE_QUERY,
        cursor: (p) => Buffer.from(JSON.stringify([digest, p.lastName, p.id])).toString('base64'),
      },
    ];
    const at = await positions(databaseUrl, consultants, options.cursors);
    const starts: Record<PageKind, (Position | null)[]> = {
      first: [null],
      deep: [at.deep],
      varying: at.varying,
    };

    // Same consultants, skills and missions from both, before any timing.
    for (const [kind, list] of Object.entries(starts)) {
      for (const start of list.slice(0, 3)) {
        const [ours, theirs] = await Promise.all(
          sides.map(async (side) => {
            const body = JSON.parse(bodyFor(side, start)) as {
              query: string;
              variables: Record<string, unknown>;
            };
            return summarize(await postGraphQL(side.server.graphqlUrl, body.query, body.variables));
          }),
        );
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
          throw new Error(
            `${kind} page: the two servers disagree (ours ${JSON.stringify(ours).slice(0, 300)}…, theirs ${JSON.stringify(theirs).slice(0, 300)}…)`,
          );
        }
        if ((ours?.consultants.length ?? 0) === 0) throw new Error(`${kind} page is empty`);
      }
    }

    const bodies = (side: Side, kind: PageKind) => starts[kind].map((p) => bodyFor(side, p));
    // The count query reads the same in both inflections.
    const countBodies = [JSON.stringify({ query: COUNT_QUERY })];
    type Kind = PageKind | 'count';
    const kinds: Kind[] = ['first', 'deep', 'varying', 'count'];
    const totals = new Map<string, LoadFigures>();
    const add = (key: string, figures: LoadFigures) => {
      const sum = totals.get(key) ?? { requests: 0, requestsPerSecond: 0, cpuMsPerRequest: 0 };
      totals.set(key, {
        requests: sum.requests + figures.requests,
        requestsPerSecond: sum.requestsPerSecond + figures.requestsPerSecond / options.rounds,
        cpuMsPerRequest: sum.cpuMsPerRequest + figures.cpuMsPerRequest / options.rounds,
      });
    };
    for (const side of sides) {
      // Warm both (JIT, plan caches, connection pools) on every page kind before the first
      // timed run: a server measured on a kind it has not served yet is still compiling it.
      for (const kind of ['first', 'deep', 'varying'] as const) {
        await load(side, bodies(side, kind), 2, options.connections);
      }
    }
    for (let round = 0; round < options.rounds; round += 1) {
      for (const kind of kinds) {
        const order = round % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          const list = kind === 'count' ? countBodies : bodies(side, kind);
          add(`${kind}:${side.name}`, await load(side, list, options.seconds, options.connections));
        }
      }
    }

    const conditions = (extra: string) =>
      `${consultants.toLocaleString('en-US')} consultants; ${extra}; autocannon, ${options.connections} connections, ${options.rounds} alternating round(s) of ${options.seconds} s per server; PostGraphile 5 (amber + simplify-inflection, NODE_ENV=production) and the API in their own processes, the load generator in a third; CPU = user + system time of each server process from /proc over its own runs; both answers checked equal first`;
    const describe: Record<Kind, { title: string; extra: string }> = {
      first: { title: 'first page', extra: 'first: 50, no cursor' },
      deep: {
        title: `from a cursor at row ${at.deepRow.toLocaleString('en-US')}`,
        extra: `first: 50 after row ${at.deepRow.toLocaleString('en-US')}`,
      },
      varying: {
        title: 'a different cursor on every request',
        extra: `first: 50, cycling through ${at.varying.length} cursors spread over the table`,
      },
      count: { title: '`consultants(first: 1) { totalCount }`', extra: 'totalCount only' },
    };
    return kinds.map((kind) => {
      const ours = totals.get(`${kind}:ours`) as LoadFigures;
      const theirs = totals.get(`${kind}:PostGraphile`) as LoadFigures;
      const ratio = ours.requestsPerSecond / theirs.requestsPerSecond;
      const value = `${fmtRatio(ratio)} (${ours.requestsPerSecond.toFixed(0)} vs ${theirs.requestsPerSecond.toFixed(0)} req/s); CPU per request ${fmtMs(ours.cpuMsPerRequest)} vs ${fmtMs(theirs.cpuMsPerRequest)}`;
      const data = { ours, theirs, ratio };
      if (kind === 'count') {
        return {
          id: 'postgraphile_count',
          metric: `vs PostGraphile 5, ${describe[kind].title}: our req/s ÷ theirs`,
          value,
          target: 'reported',
          verdict: 'report' as const,
          conditions: conditions(describe[kind].extra),
          data,
        };
      }
      return {
        id: `postgraphile_${kind}`,
        metric: `nested page (50 consultants + practice, skills, 3 missions) vs PostGraphile 5, ${describe[kind].title}: our req/s ÷ theirs, and server CPU per request`,
        value,
        target: 'ratio ≥ 1.2 and our CPU ≤ 4 ms',
        verdict: verdict(ratio >= 1.2 && ours.cpuMsPerRequest <= 4),
        conditions: conditions(describe[kind].extra),
        data,
      };
    });
  } finally {
    await postgraphile.stop();
  }
}
