import { describe, expect, it } from 'vitest';
import { disposeAfterAll } from './support/dispose.js';
import { startTestServer } from './support/server.js';

const dispose = disposeAfterAll();

/** The `operation` label values of one metric in a Prometheus text exposition, with their samples. */
function operationLabels(text: string, metric: string): Map<string, number> {
  const labels = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const match = /operation="((?:[^"\\]|\\.)*)"[^}]*\} (\S+)$/.exec(line);
    if (match?.[1] !== undefined) {
      labels.set(match[1], (labels.get(match[1]) ?? 0) + Number(match[2]));
    }
  }
  return labels;
}

async function inBatches(count: number, size: number, send: (index: number) => Promise<unknown>) {
  for (let start = 0; start < count; start += size) {
    await Promise.all(
      Array.from({ length: Math.min(size, count - start) }, (_, offset) => send(start + offset)),
    );
  }
}

describe('/metrics under client-chosen operation names', () => {
  it('keeps at most METRICS_MAX_OPERATION_NAMES names, truncated, and counts the rest as other', async () => {
    const server = await startTestServer(
      { METRICS_MAX_OPERATION_NAMES: '20' },
      { disposer: dispose },
    );
    const distinct = 300;
    await inBatches(distinct, 25, (i) => server.query(`query Op${i} { __typename }`));
    // Five names of 200,000 characters each (well under the body limit, one token each).
    await inBatches(5, 5, (i) =>
      server.query(`query ${`H${i}`.padEnd(200_000, 'x')} { __typename }`),
    );

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const labels = operationLabels(text, 'graphql_operations_total');
    // 20 names kept (the first ones seen) plus `other`; every request counted once.
    expect(labels.size).toBeLessThanOrEqual(21);
    expect(labels.get('other')).toBeGreaterThanOrEqual(distinct + 5 - 20);
    expect([...labels.values()].reduce((sum, count) => sum + count, 0)).toBe(distinct + 5);
    for (const label of labels.keys()) expect(label.length).toBeLessThanOrEqual(65);
    expect(
      operationLabels(text, 'graphql_operation_duration_seconds_count').size,
    ).toBeLessThanOrEqual(21);
    // The whole exposition stays small: before the bound it grew by megabytes here.
    expect(text.length).toBeLessThan(100_000);
  });

  it('keeps truncated long names apart from the cap: the first 64 characters name the series', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const name = `Long${'y'.repeat(10_000)}`;
    await server.query(`query ${name} { __typename }`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const labels = [...operationLabels(text, 'graphql_operations_total').keys()];
    expect(labels).toEqual([`${name.slice(0, 64)}…`]);
  });
});

describe('/metrics access', () => {
  it('is not served in production unless a token or METRICS_PUBLIC allows it', async () => {
    const server = await startTestServer({ NODE_ENV: 'production' }, { disposer: dispose });
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('graphql_operations_total');
    // The other operations endpoints stay open: probes do not carry tokens.
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);

    const opened = await startTestServer(
      { NODE_ENV: 'production', METRICS_PUBLIC: 'true' },
      { disposer: dispose },
    );
    expect((await fetch(`${opened.url}/metrics`)).status).toBe(200);
  });

  it('answers only the bearer of METRICS_TOKEN when one is set', async () => {
    const token = 'metrics-token-0123456789';
    const server = await startTestServer({ METRICS_TOKEN: token }, { disposer: dispose });
    const without = await fetch(`${server.url}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(`${server.url}/metrics`, {
      headers: { authorization: 'Bearer metrics-token-WRONG-0123456789' },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('graphql_operations_total');
    const right = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('sql_statements_total');
  });
});
