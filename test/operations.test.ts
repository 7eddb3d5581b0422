import { describe, expect, it } from 'vitest';
import { disposeAfterAll } from './support/dispose.js';
import { startTestServer } from './support/server.js';

const dispose = disposeAfterAll();

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('operations endpoints', () => {
  it('answers /health and /ready with the state of the database and change detection', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);

    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, database: true, changeDetection: 'notify' });
  });

  it('exports operations, errors by code, cache hits and misses, and live-stats figures', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    await server.query('query PageOne { consultants(first: 2) { totalCount } }');
    await server.query('query PageOne { consultants(first: 2) { totalCount } }');
    await server.query('{ consultants(first: 2 { totalCount } }');
    await server.query('query TooMany { consultants(first: 500) { totalCount } }');

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'graphql_operations_total', 'operation="PageOne",type="query"')).toBe(2);
    expect(
      sample(text, 'graphql_operation_duration_seconds_count', 'operation="PageOne",type="query"'),
    ).toBe(2);
    expect(sample(text, 'graphql_errors_total', 'code="GRAPHQL_PARSE_FAILED"')).toBe(1);
    expect(sample(text, 'graphql_errors_total', 'code="BAD_USER_INPUT"')).toBe(1);
    // The second identical totalCount came from the cache.
    expect(sample(text, 'cache_hits_total', 'cache="counts"')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cache_misses_total', 'cache="counts"')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'stats_recomputes_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'listener_reconnects_total')).toBe(0);
    expect(sample(text, 'change_detection_source', 'source="notify",mode="auto"')).toBe(1);
    // The NOTIFY queue is shared by the whole cluster (other test files notify too): a fraction, not 0.
    const queueUsage = sample(text, 'pg_notification_queue_usage');
    expect(queueUsage).toBeGreaterThanOrEqual(0);
    expect(queueUsage).toBeLessThan(1);
    expect(sample(text, 'sql_statements_total')).toBeGreaterThan(0);
    expect(sample(text, 'websocket_connections')).toBe(0);
  });

  it('says not ready while change detection is stopped', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    await server.app.changes?.stop();
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      ready: false,
      database: true,
      changeDetection: 'none',
    });
  });
});
