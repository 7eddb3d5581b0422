import autocannon from 'autocannon';
import { postGraphQL } from '../lib/measure.js';
import { type ServerProcess, startHelloWorld } from '../lib/processes.js';
import { fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';
import { NESTED_PAGE_QUERY } from './pages.js';

const STATS_QUERY = /* GraphQL */ `
  query Stats {
    stats {
      version
      consultants { total available onMission utilizationRate }
      missions { active ended total averageDailyRate }
      practices { name consultants }
      topSkills(first: 5) { name consultants }
    }
  }
`;

interface Load {
  name: string;
  url: string;
  body: string;
}

async function requestsPerSecond(
  load: Load,
  seconds: number,
  connections: number,
): Promise<number> {
  const result = await autocannon({
    url: load.url,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: load.body,
  });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(
      `${load.name}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`,
    );
  }
  return result.requests.total / seconds;
}

/**
 * Throughput of the cached `stats` query and of an uncached nested page
 * against a plain graphql-yoga hello world, all driven by autocannon from
 * this process, alternating in rounds so each ratio compares runs seconds
 * apart.
 */
export async function measureHttpThroughput(
  api: ServerProcess,
  options: { seconds: number; rounds: number; connections: number },
): Promise<MetricResult[]> {
  const hello = await startHelloWorld();
  try {
    const helloLoad: Load = {
      name: 'hello',
      url: `${hello.url}/graphql`,
      body: JSON.stringify({ query: '{ hello }' }),
    };
    const statsLoad: Load = {
      name: 'stats',
      url: api.graphqlUrl,
      body: JSON.stringify({ query: STATS_QUERY }),
    };
    const pageVariables = { first: 50 };
    const pageLoad: Load = {
      name: 'page',
      url: api.graphqlUrl,
      body: JSON.stringify({ query: NESTED_PAGE_QUERY, variables: pageVariables }),
    };
    // Each body must succeed before it is timed: a fast error is not throughput.
    await postGraphQL(helloLoad.url, '{ hello }');
    await postGraphQL(api.graphqlUrl, STATS_QUERY);
    await postGraphQL(api.graphqlUrl, NESTED_PAGE_QUERY, pageVariables);
    const totals = { hello: 0, stats: 0, page: 0 };
    for (let round = 0; round < options.rounds; round += 1) {
      const order =
        round % 2 === 0 ? [helloLoad, statsLoad, pageLoad] : [pageLoad, statsLoad, helloLoad];
      for (const load of order) {
        totals[load.name as keyof typeof totals] += await requestsPerSecond(
          load,
          options.seconds,
          options.connections,
        );
      }
    }
    const rps = {
      hello: totals.hello / options.rounds,
      stats: totals.stats / options.rounds,
      page: totals.page / options.rounds,
    };
    const conditions = `autocannon, ${options.connections} connections, ${options.rounds} alternating round(s) of ${options.seconds} s; servers in their own processes, load generator in a third`;
    const statsRatio = rps.stats / rps.hello;
    const pageRatio = rps.page / rps.hello;
    return [
      {
        id: 'stats_throughput_ratio',
        metric: 'cached `stats` query throughput vs plain graphql-yoga hello world',
        value: `${fmtRatio(statsRatio)} (${rps.stats.toFixed(0)} vs ${rps.hello.toFixed(0)} req/s)`,
        target: '≥ 0.7',
        verdict: verdict(statsRatio >= 0.7),
        conditions,
        data: { ...rps, ratio: statsRatio },
      },
      {
        id: 'page_throughput_ratio',
        metric: 'uncached consultants page (first: 50, nested) throughput vs the same hello world',
        value: `${fmtRatio(pageRatio)} (${rps.page.toFixed(0)} vs ${rps.hello.toFixed(0)} req/s)`,
        target: '≥ 0.25',
        verdict: verdict(pageRatio >= 0.25),
        conditions,
        data: { ...rps, ratio: pageRatio },
      },
    ];
  } finally {
    await hello.stop();
  }
}
