import pg from 'pg';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterEach();

const FULL_SELECTION = `version computedAt
  consultants { total available onMission unavailable utilizationRate }
  missions { active ended total averageDailyRate }
  practices { practiceId name consultants averageDailyRate }
  topSkills(first: 5) { name consultants }`;

const DASHBOARD = `subscription Dashboard($min: Int) { statsChanged(minIntervalMs: $min) { ${FULL_SELECTION} } }`;

interface Frame {
  text: string;
  binary: boolean;
}

interface NextMessage {
  id: string;
  type: 'next';
  payload: {
    data?: { statsChanged: { version: string; consultants: { total: number } } | null } | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
}

/**
 * A bare graphql-transport-ws client that keeps every frame as it arrived,
 * so the bytes the server sent can be compared.
 */
async function openSocket(server: TestServer) {
  const socket = new WebSocket(server.graphqlUrl.replace('http', 'ws'), 'graphql-transport-ws');
  const frames: Frame[] = [];
  let closed = false;
  socket.on('message', (data, binary) => frames.push({ text: data.toString(), binary }));
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  dispose.add(async () => {
    if (closed) return;
    const gone = new Promise((resolve) => socket.once('close', resolve));
    socket.close(1000);
    await gone;
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await waitFor(() => frames.some((frame) => frame.text.includes('"connection_ack"')));

  const parsed = () =>
    frames.map((frame) => JSON.parse(frame.text) as { id?: string; type: string });
  return {
    frames,
    subscribe(id: string, query: string, variables?: Record<string, unknown>) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    complete(id: string) {
      socket.send(JSON.stringify({ id, type: 'complete' }));
    },
    async close() {
      const gone = new Promise((resolve) => socket.once('close', resolve));
      socket.close(1000);
      await gone;
    },
    /** The `next` frames of one operation, raw. */
    nextFrames(id: string): Frame[] {
      return frames.filter((frame) => {
        const message = JSON.parse(frame.text) as { id?: string; type: string };
        return message.type === 'next' && message.id === id;
      });
    },
    nexts(id: string): NextMessage[] {
      return parsed().filter(
        (message): message is NextMessage => message.type === 'next' && message.id === id,
      );
    },
    completed(id: string): boolean {
      return parsed().some((message) => message.type === 'complete' && message.id === id);
    },
  };
}

type RawSocket = Awaited<ReturnType<typeof openSocket>>;

/** The payload bytes of a `next` frame, after checking the envelope graphql-ws would build. */
function payloadOf(frame: Frame, id: string): string {
  const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  expect(frame.binary).toBe(false);
  expect(frame.text.startsWith(head)).toBe(true);
  expect(frame.text.endsWith('}')).toBe(true);
  // Canonical JSON: what JSON.stringify of the parsed message gives, as graphql-ws sends it.
  expect(JSON.stringify(JSON.parse(frame.text))).toBe(frame.text);
  return frame.text.slice(head.length, -1);
}

async function insertConsultant(server: TestServer, email: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
       VALUES ('Fan', 'Out', $1, (SELECT min(id) FROM practices), 'SENIOR', 900, 'AVAILABLE')`,
      [email],
    );
  } finally {
    await client.end();
  }
}

function fanOut(server: TestServer) {
  const endpoint = server.app.webSockets;
  if (!endpoint) throw new Error('no WebSocket endpoint');
  return endpoint.sharedStats;
}

/** Members written by fan-outs so far, as /metrics exports it. */
async function fanOutMembersWritten(server: TestServer): Promise<number> {
  const metric = await server.app.metrics.registry.getSingleMetric('stats_fanout_members')?.get();
  const sum = metric?.values.find(
    (value) => (value as { metricName?: string }).metricName === 'stats_fanout_members_sum',
  );
  return sum?.value ?? 0;
}

function publisherSubscribers(server: TestServer): number {
  return server.app.stats?.metrics.subscribers ?? -1;
}

describe('statsChanged fan-out over graphql-ws', () => {
  it('executes once per version for 50 identical subscriptions and sends them the same bytes', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const sockets: RawSocket[] = [];
    const members: { socket: RawSocket; id: string }[] = [];
    for (let s = 0; s < 10; s += 1) {
      const socket = await openSocket(server);
      sockets.push(socket);
      for (let o = 0; o < 5; o += 1) {
        const id = `dash-${s}-${o}`;
        socket.subscribe(id, DASHBOARD);
        members.push({ socket, id });
      }
    }
    await waitFor(() => members.every(({ socket, id }) => socket.nexts(id).length >= 1), 10_000);
    expect(fanOut(server).groups).toBe(1);
    expect(fanOut(server).members).toBe(50);
    // The members' own streams were dropped: the publisher feeds one stream for all 50.
    expect(publisherSubscribers(server)).toBe(1);

    // The same selection outside the plain shape (a fragment at the root) takes the normal path.
    const plain = await openSocket(server);
    plain.subscribe(
      'plain',
      `subscription { ...Live } fragment Live on Subscription { statsChanged { ${FULL_SELECTION} } }`,
    );
    await waitFor(() => plain.nexts('plain').length >= 1, 10_000);
    expect(fanOut(server).groups).toBe(1);
    expect(publisherSubscribers(server)).toBe(2);

    await server.waitForIdle();
    const executionsBefore = fanOut(server).executions;
    const pushesBefore = server.app.stats?.metrics.pushes ?? 0;
    const writtenBefore = await fanOutMembersWritten(server);
    const before = members[0]?.socket.nexts(members[0].id)[0]?.payload.data?.statsChanged;
    await insertConsultant(server, 'fanout.1@example.test');
    // Compared by version, not by count: a resync may push a version again at any time.
    const newer = (message: NextMessage | undefined) =>
      BigInt(message?.payload.data?.statsChanged?.version ?? 0) > BigInt(before?.version ?? 0);
    await waitFor(
      () =>
        members.every(({ socket, id }) => newer(socket.nexts(id).at(-1))) &&
        newer(plain.nexts('plain').at(-1)),
      10_000,
    );
    await server.waitForIdle();
    const pushes = (server.app.stats?.metrics.pushes ?? 0) - pushesBefore;
    expect(pushes).toBeGreaterThanOrEqual(1);
    // One execution per pushed version for the whole group, not one per member.
    expect(fanOut(server).executions - executionsBefore).toBe(pushes);

    const payloads = new Set(
      members.map(({ socket, id }) => payloadOf(socket.nextFrames(id).at(-1) as Frame, id)),
    );
    expect(payloads.size).toBe(1);
    // Byte for byte what graphql-ws itself sends for the same selection and version.
    const [shared] = [...payloads];
    expect(payloadOf(plain.nextFrames('plain').at(-1) as Frame, 'plain')).toBe(shared);
    const after = members[0]?.socket.nexts(members[0].id).at(-1)?.payload.data?.statsChanged;
    expect(after?.consultants.total).toBe((before?.consultants.total ?? 0) + 1);

    // Operators see each push's fan-out: members written (and its duration and CPU).
    expect((await fanOutMembersWritten(server)) - writtenBefore).toBe(50 * pushes);
  });

  it('keeps different selections, intervals and failing selections in groups of their own', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const small = `subscription($min: Int) { statsChanged(minIntervalMs: $min) { version consultants { total } } }`;
    const failing = `subscription { statsChanged { version topSkills(first: 99) { name } } }`;
    const socket = await openSocket(server);
    const other = await openSocket(server);
    for (const target of [socket, other]) {
      target.subscribe('full', DASHBOARD);
      target.subscribe('small', small);
      target.subscribe('paced', small, { min: 1_000 });
      target.subscribe('failing', failing);
    }
    const ids = ['full', 'small', 'paced', 'failing'];
    await waitFor(
      () => ids.every((id) => socket.nexts(id).length >= 1 && other.nexts(id).length >= 1),
      10_000,
    );
    expect(fanOut(server).groups).toBe(4);
    expect(fanOut(server).members).toBe(8);
    expect(publisherSubscribers(server)).toBe(4);

    const small1 = socket.nexts('small')[0]?.payload.data?.statsChanged;
    expect(Object.keys(small1 ?? {})).toEqual(['version', 'consultants']);
    expect(Object.keys(socket.nexts('full')[0]?.payload.data?.statsChanged ?? {})).toContain(
      'practices',
    );
    // A bad argument in the selection fails every event, masked and coded like any other.
    const failed = socket.nexts('failing')[0]?.payload;
    expect(failed?.data?.statsChanged).toMatchObject({ topSkills: null });
    expect(failed?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    for (const id of ids) {
      expect(payloadOf(other.nextFrames(id)[0] as Frame, id)).toBe(
        payloadOf(socket.nextFrames(id)[0] as Frame, id),
      );
    }

    await server.waitForIdle();
    const executionsBefore = fanOut(server).executions;
    const pushesBefore = server.app.stats?.metrics.pushes ?? 0;
    const version = (target: RawSocket, id: string) =>
      BigInt(target.nexts(id).at(-1)?.payload.data?.statsChanged?.version ?? 0);
    // Read before the write: its push may arrive before the insert call returns.
    const first = version(socket, 'small');
    await insertConsultant(server, 'fanout.2@example.test');
    await waitFor(
      () =>
        ['full', 'small', 'failing'].every(
          (id) => version(socket, id) > first && version(other, id) > first,
        ),
      10_000,
    );
    const small2 = socket.nexts('small').at(-1)?.payload.data?.statsChanged;
    expect(small2?.consultants.total).toBe((small1?.consultants.total ?? 0) + 1);
    expect(socket.nexts('failing').at(-1)?.payload.errors?.[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    // The paced group gets the same newest version once its interval has passed.
    await waitFor(
      () =>
        version(socket, 'paced') === BigInt(small2?.version ?? -1) &&
        version(other, 'paced') === BigInt(small2?.version ?? -1),
      10_000,
    );
    await server.waitForIdle();
    const pushes = (server.app.stats?.metrics.pushes ?? 0) - pushesBefore;
    expect(fanOut(server).executions - executionsBefore).toBe(4 * pushes);
  });

  it('ends the shared stream when the last member leaves, by complete or by closing', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const a = await openSocket(server);
    const b = await openSocket(server);
    a.subscribe('1', DASHBOARD);
    a.subscribe('2', DASHBOARD);
    b.subscribe('1', DASHBOARD);
    await waitFor(
      () => a.nexts('1').length >= 1 && a.nexts('2').length >= 1 && b.nexts('1').length >= 1,
      10_000,
    );
    expect(fanOut(server)).toMatchObject({ groups: 1, members: 3 });

    a.complete('1');
    await waitFor(() => fanOut(server).members === 2);
    expect(fanOut(server).groups).toBe(1);
    await b.close();
    await waitFor(() => fanOut(server).members === 1);
    expect(publisherSubscribers(server)).toBe(1);

    // A member joining a running group gets the group's current payload at once.
    a.subscribe('3', DASHBOARD);
    await waitFor(() => a.nexts('3').length >= 1, 10_000);
    const joined = payloadOf(a.nextFrames('3')[0] as Frame, '3');
    expect(a.nextFrames('2').map((frame) => payloadOf(frame, '2'))).toContain(joined);
    a.complete('2');
    a.complete('3');
    await waitFor(() => fanOut(server).groups === 0 && publisherSubscribers(server) === 0);
    expect(fanOut(server).members).toBe(0);

    // Nothing keeps executing for the departed members.
    await server.waitForIdle();
    const executions = fanOut(server).executions;
    const pushes = server.app.stats?.metrics.pushes ?? 0;
    await insertConsultant(server, 'fanout.3@example.test');
    await waitFor(() => (server.app.stats?.metrics.pushes ?? 0) > pushes, 10_000);
    await server.waitForIdle();
    expect(fanOut(server).executions).toBe(executions);
    const versions = (id: string) => a.nexts(id).map((m) => m.payload.data?.statsChanged?.version);
    const pushed = server.app.stats ? (await server.app.stats.current()).version : '';
    expect(versions('1')).not.toContain(pushed);
    expect(versions('2')).not.toContain(pushed);
    expect(a.completed('1')).toBe(false);
  });

  it('leaves no group running once the server has stopped', async () => {
    const server = await startTestServer({}, { disposer: dispose });
    const socket = await openSocket(server);
    socket.subscribe('1', DASHBOARD);
    socket.subscribe('2', DASHBOARD);
    await waitFor(() => socket.nexts('1').length >= 1 && socket.nexts('2').length >= 1, 10_000);
    await server.stop();
    expect(fanOut(server)).toMatchObject({ groups: 0, members: 0 });
  });
});
