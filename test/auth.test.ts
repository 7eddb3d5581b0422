import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAuthenticator } from '../src/auth/authenticator.js';
import { loadConfig } from '../src/config.js';
import { AUTH_OVERRIDES, TEST_ADMIN_KEY, TEST_VIEWER_KEY, tokenFor } from './support/auth.js';
import { disposeAfterAll, waitFor } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(AUTH_OVERRIDES, { disposer: dispose });
});
afterAll(() => dispose.run());

interface Socket {
  client: Client;
  closeCodes: number[];
  results: unknown[];
  errors: unknown[];
}

/** A graphql-ws client subscribed to statsChanged, recording how its socket closes. */
function subscribeStats(connectionParams: Record<string, unknown>): Socket {
  const socket: Socket = { client: undefined as never, closeCodes: [], results: [], errors: [] };
  socket.client = createClient({
    url: server.graphqlUrl.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams,
    // Refusals are what some tests expect: recorded through `closed`, not printed.
    onNonLazyError: () => {},
    on: { closed: (event) => socket.closeCodes.push((event as { code: number }).code) },
  });
  const unsubscribe = socket.client.subscribe(
    { query: 'subscription { statsChanged { version consultants { total } } }' },
    {
      next: (result) => socket.results.push(result),
      error: (error) => socket.errors.push(error),
      complete: () => {},
    },
  );
  dispose.add(async () => {
    unsubscribe();
    await socket.client.dispose();
  });
  return socket;
}

describe('HTTP reads', () => {
  const STATS = '{ stats { version } }';

  it('need a credential when anonymous reads are off', async () => {
    const result = await server.query(STATS);
    expect(expectOneError(result).extensions?.code).toBe('UNAUTHENTICATED');
    expect(result.body.data?.stats ?? null).toBeNull();
  });

  it('accept a viewer token, an admin token and either API key', async () => {
    for (const token of [
      await tokenFor('viewer'),
      await tokenFor('admin'),
      TEST_VIEWER_KEY,
      TEST_ADMIN_KEY,
    ]) {
      expect(expectData(await server.query(STATS, {}, { token })).stats.version).toMatch(/^\d+$/);
    }
  });

  it('refuse an expired token, a token signed with another secret and an unknown key (401)', async () => {
    const { mintToken } = await import('../src/auth/tokens.js');
    const { Secret } = await import('../src/config.js');
    const otherSecret = await mintToken({
      secret: new Secret('another-secret-another-secret-0123456789'),
      actor: 'mallory',
      role: 'admin',
      expiresIn: '1h',
    });
    for (const token of [
      await tokenFor('admin', 'late', -10),
      otherSecret,
      'not-a-key-0123456789',
    ]) {
      const result = await server.query(STATS, {}, { token });
      expect(result.status).toBe(401);
      expect(expectOneError(result).extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('keep audit and tasks for admins', async () => {
    const viewer = await tokenFor('viewer');
    for (const query of [
      '{ auditLogs(first: 1) { totalCount } }',
      '{ tasks(first: 1) { totalCount } }',
      '{ auditStats { count } }',
    ]) {
      const result = await server.query(query, {}, { token: viewer });
      expect(expectOneError(result).extensions?.code, query).toBe('FORBIDDEN');
    }
  });
});

describe('graphql-ws', () => {
  it('closes a socket without a credential, or with a bad one, with 4403', async () => {
    const anonymous = subscribeStats({});
    const forged = subscribeStats({ authorization: 'Bearer forged.token.value' });
    await waitFor(() => anonymous.closeCodes.length > 0 && forged.closeCodes.length > 0, 10_000);
    expect(anonymous.closeCodes).toEqual([4403]);
    expect(forged.closeCodes).toEqual([4403]);
    expect(anonymous.results).toEqual([]);
  });

  it('serves a socket whose token comes in connectionParams, and closes it with 4403 when the token expires', async () => {
    const lasting = subscribeStats({ token: await tokenFor('viewer', 'v1', '1h') });
    const expiring = subscribeStats({
      authorization: `Bearer ${await tokenFor('viewer', 'v2', 2)}`,
    });
    await waitFor(() => lasting.results.length > 0 && expiring.results.length > 0, 10_000);
    expect(lasting.results[0]).toMatchObject({
      data: { statsChanged: { version: expect.any(String) } },
    });
    await waitFor(() => expiring.closeCodes.length > 0, 10_000);
    expect(expiring.closeCodes).toEqual([4403]);
    expect(lasting.closeCodes).toEqual([]);
  });

  it('pushes a mutation made over HTTP to a statsChanged subscriber', async () => {
    const socket = subscribeStats({ token: TEST_VIEWER_KEY });
    await waitFor(() => socket.results.length > 0, 10_000);
    const first = socket.results[0] as {
      data: { statsChanged: { consultants: { total: number } } };
    };
    const total = first.data.statsChanged.consultants.total;
    const result = await server.query(
      `mutation($input: CreateConsultantInput!) {
        createConsultant(input: $input) { __typename }
      }`,
      {
        input: {
          firstName: 'Grace',
          lastName: 'Hopper',
          email: 'grace.hopper@example.com',
          practiceId: globalId('Practice', 2),
          grade: 'PARTNER',
          dailyRate: 1500,
        },
      },
      { token: await tokenFor('admin') },
    );
    expect(expectData(result).createConsultant.__typename).toBe('CreateConsultantPayload');
    await waitFor(
      () =>
        (socket.results.at(-1) as typeof first).data.statsChanged.consultants.total === total + 1,
      10_000,
    );
    const stats = await server.query(
      '{ stats { consultants { total } } }',
      {},
      { token: TEST_VIEWER_KEY },
    );
    expect(expectData(stats).stats.consultants.total).toBe(total + 1);
  });
});

describe('authenticator', () => {
  const config = loadConfig({ ...AUTH_OVERRIDES, DATABASE_URL: 'postgres://localhost/x' });
  const authenticator = createAuthenticator(config.auth);

  it('tells anonymous, authenticated and invalid apart', async () => {
    expect(await authenticator.authenticate(undefined)).toEqual({ kind: 'anonymous' });
    expect(await authenticator.authenticate(`Bearer ${TEST_ADMIN_KEY}`)).toEqual({
      kind: 'authenticated',
      viewer: { actor: 'ops-script', role: 'admin' },
    });
    const viewer = await authenticator.authenticate(`bearer ${await tokenFor('viewer', 'vera')}`);
    expect(viewer).toMatchObject({
      kind: 'authenticated',
      viewer: { actor: 'vera', role: 'viewer' },
    });
    expect((await authenticator.authenticate(`Basic ${TEST_ADMIN_KEY}`)).kind).toBe('invalid');
    expect((await authenticator.authenticate('Bearer ')).kind).toBe('invalid');
  });

  it('never shows secrets in the config', () => {
    const printed = JSON.stringify(config);
    expect(printed).not.toContain(TEST_ADMIN_KEY);
    expect(printed).not.toContain(AUTH_OVERRIDES.JWT_SECRET);
    expect(printed).toContain('[redacted]');
  });
});
