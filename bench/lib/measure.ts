import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';

/** Latencies in microseconds, three significant digits, as HdrHistogram records them. */
export type LatencyHistogram = hdr.Histogram;

export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export function recordMs(histogram: LatencyHistogram, milliseconds: number): void {
  histogram.recordValue(Math.max(1, Math.round(milliseconds * 1000)));
}

/** The value at percentile `p` (0–100), in milliseconds. */
export function percentileMs(histogram: LatencyHistogram, p: number): number {
  return histogram.getValueAtPercentile(p) / 1000;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(histogram: LatencyHistogram): LatencySummary {
  return {
    count: histogram.totalCount,
    p50: percentileMs(histogram, 50),
    p95: percentileMs(histogram, 95),
    p99: percentileMs(histogram, 99),
    max: histogram.maxValue / 1000,
  };
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes of one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every few milliseconds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One GraphQL POST; an error in the response throws, so a bench never times failures. */
export async function postGraphQL(
  graphqlUrl: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as GraphQLResponse;
  if (!response.ok || body.errors?.length) {
    throw new Error(
      `GraphQL request failed (${response.status}): ${body.errors?.map((e) => `${e.extensions?.code ?? ''} ${e.message}`).join('; ')}`,
    );
  }
  return body;
}
