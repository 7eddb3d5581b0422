import { describe, expect, it } from 'vitest';
import { createTestDatabase, withClient } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { spawnTestServer } from './support/entry-point.js';

const dispose = disposeAfterEach();

const CONSULTANTS = 40;
// Every consultant's missions fail (their table is locked past the statement timeout).
const MANY_FAILED_FIELDS = `query ManyFailures {
  consultants(first: ${CONSULTANTS}) { edges { node { fullName missions(first: 1) { totalCount } } } }
}`;

interface LogLine {
  level: number;
  msg: string;
  count?: number;
  operation?: string;
  paths?: string[];
  err?: { message?: string; stack?: string };
}

function errorLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.level >= 50);
}

describe('error-log budget', () => {
  it('a reply with many failed fields writes one log line with the count and the first error', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const server = await spawnTestServer(
      database.url,
      { DATABASE_STATEMENT_TIMEOUT_MS: '500' },
      dispose,
    );
    const response = await withClient(database.url, async (client) => {
      await client.query('BEGIN');
      await client.query('LOCK TABLE missions IN ACCESS EXCLUSIVE MODE');
      try {
        return await fetch(server.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: MANY_FAILED_FIELDS }),
        });
      } finally {
        await client.query('ROLLBACK');
      }
    });
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors).toHaveLength(CONSULTANTS);
    expect(body.errors?.every((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR')).toBe(
      true,
    );

    // Every error line but those of the server's start-up stats recompute, which the
    // lock can also time out, and which logs (and retries) on its own.
    const requestLines = () =>
      errorLines(server.output()).filter((l) => l.msg !== 'stats recompute failed; retrying');
    const [line, ...others] = await waitFor(() => {
      const lines = requestLines();
      return lines.length > 0 ? lines : null;
    }, 10_000);
    expect(others).toEqual([]);
    expect(line).toMatchObject({
      msg: 'unexpected errors',
      operation: 'ManyFailures',
      count: CONSULTANTS,
    });
    // The first error in full (the driver's, with its stack), then only paths.
    expect(line?.err?.message).toMatch(/statement timeout/);
    expect(line?.paths).toHaveLength(5);
    expect(JSON.stringify(requestLines()).match(/"stack"/g)).toHaveLength(1);
    // drizzle puts the statement's parameters in its message; they stay out.
    expect(server.output()).not.toContain('params:');
  }, 90_000);
});
