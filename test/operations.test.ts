import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createTestDatabase } from './support/database.js';
import { disposeAfterAll, waitFor } from './support/dispose.js';
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
    expect(sample(text, 'websocket_operations')).toBe(0);
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

  it('logs one line per operation and slow statements, never variables, tokens or SQL parameters', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const lines: string[] = [];
    // A bare logger (no redaction configured): what the app writes must be safe by itself.
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const config = loadConfig({
      DATABASE_URL: database.url,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'test',
      ALLOW_ANONYMOUS_READS: 'true',
      // Every statement counts as slow, so the warning path runs for the request below.
      SLOW_QUERY_MS: '1',
    });
    const app = buildApp(config, { log });
    dispose.add(() => app.stop());
    const running = await app.start();

    const secretSearch = 'hunter2-search-secret';
    const search = (headers: Record<string, string>) =>
      fetch(running.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({
          query:
            'query Search($search: String) { consultants(first: 2, filter: { search: $search }) { totalCount } }',
          variables: { search: secretSearch },
        }),
      });
    // A token the server refuses, then the same search anonymously.
    const refused = await search({ authorization: 'Bearer tok-very-secret-value' });
    expect(refused.status).toBe(401);
    expect((await search({})).status).toBe(200);
    const parsed = () => lines.map((line) => JSON.parse(line));
    const operation = await waitFor(() =>
      parsed().find((line) => line.msg === 'operation' && line.operation === 'Search'),
    );
    expect(operation).toMatchObject({ level: 30, type: 'query' });
    expect(typeof operation.ms).toBe('number');
    const slow = parsed().filter((line) => line.msg === 'slow SQL statement');
    expect(slow.length).toBeGreaterThan(0);
    expect(slow.every((line) => line.level === 40 && typeof line.statement === 'string')).toBe(
      true,
    );

    await app.stop();
    for (const line of lines) {
      expect(line).not.toContain(secretSearch);
      expect(line).not.toContain('tok-very-secret-value');
      expect(line).not.toMatch(/postgres:\/\/[^"]*:[^"*@]+@/);
    }
  });
});
