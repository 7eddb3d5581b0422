import { readFile } from 'node:fs/promises';
import { parse } from 'graphql';
import { loadConfig } from '../../src/config.js';
import { buildSchema } from '../../src/schema/index.js';
import { COST_MODEL } from '../../src/server/plugins/use-query-limits.js';
import { estimateQueryCost } from '../../src/server/query-cost.js';
import { median, sleep } from '../lib/measure.js';
import { type ServerProcess, startApi } from '../lib/processes.js';
import { fmtMs, fmtRatio, type MetricResult, verdict } from '../lib/report-types.js';

export interface HeavyQueryOptions {
  /** Clients each running the maximum-cost query in a loop. */
  concurrency: number;
  /** Simple-query samples, idle and then under the heavy load. */
  samples: number;
}

const SIMPLE_QUERY = '{ consultants(first: 5) { edges { node { fullName } } } }';

/** A consultants page with everything nested under it; `first`/`missions` scale its cost. */
function heavyQuery(aliases: number, first: number, missions: number): string {
  const page = (index: number) =>
    `a${index}: consultants(first: ${first}) { edges { node {
      id fullName email dailyRate availability practice { name }
      skills { level skill { name category } }
      missions(first: ${missions}) { edges { node { title client startDate endDate dailyRate status } } }
    } } }`;
  return `query Heavy { ${Array.from({ length: aliases }, (_, index) => page(index)).join('\n')} }`;
}

/**
 * The costliest query of this shape the server accepts: every alias
 * allowed, full pages, then as many missions per consultant as the cost
 * limit leaves room for.
 */
export function maximumCostQuery(
  maxCost: number,
  maxAliases: number,
): { query: string; cost: number } {
  const schema = buildSchema();
  const cost = (query: string) => estimateQueryCost({ schema, document: parse(query) }, COST_MODEL);
  let best = { query: heavyQuery(1, 1, 1), cost: 0 };
  for (let aliases = Math.max(1, maxAliases); aliases >= 1; aliases -= 1) {
    for (const first of [100, 50, 20, 10, 5, 1]) {
      for (let missions = 100; missions >= 1; missions -= 1) {
        const query = heavyQuery(aliases, first, missions);
        const estimate = cost(query);
        if (estimate <= maxCost) {
          if (estimate > best.cost) best = { query, cost: estimate };
          break;
        }
      }
    }
    if (best.cost > 0) return best;
  }
  return best;
}

async function rssBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  return Number(kilobytes ?? Number.NaN) * 1024;
}

interface Answer {
  ms: number;
  status: number;
  code?: string;
  retryAfterSeconds?: number;
}

async function timedPost(url: string, body: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  const retryAfter = response.headers.get('retry-after');
  let code: string | undefined;
  try {
    const parsed = JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] };
    code = parsed.errors?.[0]?.extensions?.code;
  } catch {
    code = 'NOT_JSON';
  }
  return {
    ms,
    status: response.status,
    code,
    ...(retryAfter ? { retryAfterSeconds: Number(retryAfter) } : {}),
  };
}

async function simpleLatencies(api: ServerProcess, samples: number): Promise<number[]> {
  const body = JSON.stringify({ query: SIMPLE_QUERY });
  const latencies: number[] = [];
  for (let sample = 0; sample < samples; sample += 1) {
    const result = await timedPost(api.graphqlUrl, body);
    if (result.status !== 200 || result.code) {
      throw new Error(`the simple query failed (${result.status} ${result.code ?? ''})`);
    }
    latencies.push(result.ms);
  }
  return latencies;
}

interface HeavyRun {
  idleMs: number;
  loadedMs: number;
  ratio: number;
  peakRssMb: number;
  cost: number;
  heavy: Record<string, number>;
}

/** One API process: idle latency, then the same under `concurrency` heavy loops, with RSS sampled. */
async function measureOnce(
  databaseUrl: string,
  options: HeavyQueryOptions,
  env: Record<string, string>,
): Promise<HeavyRun> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, NODE_ENV: 'production', ...env });
  const heavy = maximumCostQuery(config.limits.maxCost, config.limits.maxAliases);
  const api = await startApi({ databaseUrl, env });
  try {
    await simpleLatencies(api, 20);
    const idle = median(await simpleLatencies(api, options.samples));

    let running = true;
    const outcomes: Record<string, number> = {};
    const body = JSON.stringify({ query: heavy.query });
    const loops = Array.from({ length: options.concurrency }, async () => {
      while (running) {
        const result: Answer = await timedPost(api.graphqlUrl, body).catch(() => ({
          ms: 0,
          status: 0,
          code: 'NETWORK',
        }));
        const key = result.code ? `${result.status} ${result.code}` : String(result.status);
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        // As a client should: a refusal says when to come back.
        if (result.retryAfterSeconds !== undefined && running) {
          await sleep(result.retryAfterSeconds * 1000);
        }
      }
    });
    let peakRss = 0;
    const sampler = setInterval(() => {
      rssBytes(api.pid, 'VmRSS').then(
        (bytes) => {
          peakRss = Math.max(peakRss, bytes);
        },
        () => {},
      );
    }, 100);
    try {
      // Let every loop have its first heavy query in flight.
      await sleep(1_000);
      const loaded = median(await simpleLatencies(api, options.samples));
      peakRss = Math.max(peakRss, await rssBytes(api.pid, 'VmHWM'));
      return {
        idleMs: idle,
        loadedMs: loaded,
        ratio: loaded / idle,
        peakRssMb: peakRss / 2 ** 20,
        cost: heavy.cost,
        heavy: outcomes,
      };
    } finally {
      running = false;
      clearInterval(sampler);
      await Promise.all(loops);
    }
  } finally {
    await api.stop();
  }
}

function describeOutcomes(outcomes: Record<string, number>): string {
  return Object.entries(outcomes)
    .map(([key, count]) => `${count} × ${key}`)
    .join(', ');
}

/**
 * A simple query's latency while `concurrency` clients run the costliest
 * query the server accepts, against its latency on the idle server, and the
 * API's peak RSS. With the default limits, and side by side with the limits
 * of before (cost limit 100,000, no budget for expensive operations), each
 * in a fresh API process on the same database.
 */
export async function measureHeavyQueries(
  databaseUrl: string,
  options: HeavyQueryOptions,
): Promise<MetricResult> {
  const before = await measureOnce(databaseUrl, options, {
    QUERY_MAX_COST: '100000',
    QUERY_EXPENSIVE_COST: '0',
    RESPONSE_MAX_BYTES: '0',
  });
  const after = await measureOnce(databaseUrl, options, {});
  const ok = after.ratio <= 3 && after.peakRssMb < 500;
  return {
    id: 'heavy_queries',
    metric: `simple query latency with ${options.concurrency} concurrent maximum-cost queries, vs idle; API peak RSS`,
    value: `${fmtRatio(after.ratio)} (${fmtMs(after.loadedMs)} vs ${fmtMs(after.idleMs)}), peak RSS ${after.peakRssMb.toFixed(0)} MB; before the budget: ${fmtRatio(before.ratio)} (${fmtMs(before.loadedMs)} vs ${fmtMs(before.idleMs)}), ${before.peakRssMb.toFixed(0)} MB`,
    target: '≤ 3× idle latency, < 500 MB',
    verdict: verdict(ok),
    conditions: `${options.concurrency} clients each looping the costliest query accepted (cost ${after.cost} with the defaults, ${before.cost} before), retrying after the Retry-After of a refusal; ${options.samples} sequential simple queries (\`consultants(first: 5)\`) idle, then under that load; medians; RSS from /proc (VmRSS every 100 ms and VmHWM). Heavy answers with the defaults: ${describeOutcomes(after.heavy)}; before: ${describeOutcomes(before.heavy)}`,
    data: { before, after },
  };
}
