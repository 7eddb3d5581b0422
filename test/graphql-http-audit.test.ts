import { type AuditResult, auditServer } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { disposeAfterAll } from './support/dispose.js';
import { startTestServer } from './support/server.js';

const dispose = disposeAfterAll();

function summary(results: AuditResult[], requirement: 'MUST' | 'SHOULD' | 'MAY') {
  const ofLevel = results.filter((result) => result.name.startsWith(`${requirement} `));
  return {
    passed: ofLevel.filter((result) => result.status === 'ok').length,
    total: ofLevel.length,
    failing: ofLevel
      .filter((result) => result.status !== 'ok')
      .map((result) => `${result.id} ${result.name}`),
  };
}

describe('GraphQL over HTTP conformance (graphql-http server audits)', () => {
  it('passes every MUST against the live server, CSRF prevention and limits on', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const results = await auditServer({ url: server.graphqlUrl });

    const must = summary(results, 'MUST');
    expect(must.failing).toEqual([]);
    expect(must.passed).toBeGreaterThan(0);

    // Recommendations are reported, not required: the counts go to the test output.
    const should = summary(results, 'SHOULD');
    const may = summary(results, 'MAY');
    console.info(
      `graphql-http audits: MUST ${must.passed}/${must.total}, SHOULD ${should.passed}/${should.total}, MAY ${may.passed}/${may.total}`,
    );
    console.info(`not passed: ${JSON.stringify([...should.failing, ...may.failing], null, 1)}`);
  });
});
