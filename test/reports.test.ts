import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestDatabase, createTestPool } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterEach();
afterEach(() => dispose.run());

const REPORT = `query($from: Date!, $to: Date!, $groupBy: UtilizationGroupBy!, $force: Boolean! = false) {
  utilizationReport(from: $from, to: $to, groupBy: $groupBy, forceRefresh: $force) {
    cacheHit computedAt dataVersion
    rows { key consultants staffedDays availableDays utilizationRate revenue }
  }
}`;

interface Row {
  key: string;
  consultants: number;
  staffedDays: number;
  availableDays: number;
  utilizationRate: number | null;
  revenue: number;
}

const PERIOD = { from: '2024-01-01', to: '2024-12-31' };

async function setup() {
  const database = await createTestDatabase();
  dispose.add(() => database.drop());
  const sql = createTestPool(database.url);
  dispose.add(() => sql.end());
  const start = () => startTestServer(AUTH_OVERRIDES, { database, disposer: dispose });
  return { database, sql, start, token: await tokenFor('viewer'), admin: await tokenFor('admin') };
}

async function report(server: TestServer, token: string, variables: Record<string, unknown>) {
  return expectData(await server.query(REPORT, { ...PERIOD, ...variables }, { token }))
    .utilizationReport as {
    cacheHit: boolean;
    computedAt: string;
    dataVersion: string;
    rows: Row[];
  };
}

describe('utilizationReport', () => {
  it('matches an independent computation, then serves the cached copy', async () => {
    const { sql, start, token } = await setup();
    const server = await start();
    const first = await report(server, token, { groupBy: 'PRACTICE' });
    expect(first.cacheHit).toBe(false);

    // The same numbers, computed here from the raw rows.
    const consultants = (
      await sql.query(
        'SELECT c.id, p.name FROM consultants c JOIN practices p ON p.id = c.practice_id',
      )
    ).rows;
    const practiceOf = new Map(consultants.map((row) => [row.id, row.name as string]));
    const missions = (
      await sql.query(
        `SELECT consultant_id, daily_rate, start_date::text AS s, end_date::text AS e FROM missions
         WHERE status <> 'CANCELLED' AND start_date <= $2 AND (end_date IS NULL OR end_date >= $1)`,
        [PERIOD.from, PERIOD.to],
      )
    ).rows;
    const day = (date: string) => Date.parse(`${date}T00:00:00Z`) / 86_400_000;
    const expected = new Map<string, { staffed: number; revenue: number; heads: number }>();
    for (const name of practiceOf.values()) {
      const entry = expected.get(name) ?? { staffed: 0, revenue: 0, heads: 0 };
      entry.heads += 1;
      expected.set(name, entry);
    }
    for (const mission of missions) {
      const days =
        Math.min(day(mission.e ?? PERIOD.to), day(PERIOD.to)) -
        Math.max(day(mission.s), day(PERIOD.from)) +
        1;
      const entry = expected.get(practiceOf.get(mission.consultant_id) as string);
      if (!entry) throw new Error('mission of an unknown consultant');
      entry.staffed += days;
      entry.revenue += days * mission.daily_rate;
    }
    const withStaff = first.rows.filter((row) => row.consultants > 0);
    expect(withStaff.length).toBe(expected.size);
    for (const row of withStaff) {
      const entry = expected.get(row.key);
      expect(row, row.key).toMatchObject({
        consultants: entry?.heads,
        staffedDays: entry?.staffed,
        availableDays: (entry?.heads ?? 0) * 366,
        revenue: entry?.revenue,
      });
      expect(row.utilizationRate).toBeCloseTo(
        (entry?.staffed ?? 0) / ((entry?.heads ?? 1) * 366),
        10,
      );
    }

    const second = await report(server, token, { groupBy: 'PRACTICE' });
    expect(second).toEqual({ ...first, cacheHit: true });
    const forced = await report(server, token, { groupBy: 'PRACTICE', force: true });
    expect(forced.cacheHit).toBe(false);
    expect(forced.rows).toEqual(first.rows);
    // Other parameters are other entries.
    expect((await report(server, token, { groupBy: 'MONTH' })).cacheHit).toBe(false);
    expect((await report(server, token, { groupBy: 'MONTH' })).rows.map((row) => row.key)).toEqual(
      Array.from({ length: 12 }, (_, month) => `2024-${String(month + 1).padStart(2, '0')}`),
    );
    expect((await report(server, token, { groupBy: 'SKILL' })).cacheHit).toBe(false);
  });

  it('recomputes after a write to missions, through the API or straight into the database', async () => {
    const { sql, start, token, admin } = await setup();
    const server = await start();
    const before = await report(server, token, { groupBy: 'MONTH' });
    const created = await server.query(
      `mutation($input: CreateMissionInput!) { createMission(input: $input) { __typename } }`,
      {
        input: {
          consultantId: globalId('Consultant', 1),
          client: 'Client',
          title: 'Audit',
          startDate: '2024-03-01',
          endDate: '2024-03-10',
          dailyRate: 1000,
        },
      },
      { token: admin },
    );
    expect(expectData(created).createMission.__typename).toBe('CreateMissionPayload');
    // Let the change notifications of the write arrive (they may invalidate once more).
    await server.waitForIdle();
    const after = await report(server, token, { groupBy: 'MONTH' });
    expect(after.cacheHit).toBe(false);
    const march = (rows: Row[]) => rows.find((row) => row.key === '2024-03') as Row;
    expect(march(after.rows).staffedDays).toBe(march(before.rows).staffedDays + 10);
    expect(march(after.rows).revenue).toBe(march(before.rows).revenue + 10_000);
    expect((await report(server, token, { groupBy: 'MONTH' })).cacheHit).toBe(true);

    // A writer that bypasses the API (and its notifications) still moves the data version.
    await sql.query(
      "UPDATE missions SET status = 'CANCELLED' WHERE id = (SELECT max(id) FROM missions)",
    );
    await server.waitForIdle();
    const cancelled = await report(server, token, { groupBy: 'MONTH' });
    expect(cancelled.cacheHit).toBe(false);
    expect(march(cancelled.rows).staffedDays).toBe(march(before.rows).staffedDays);
  });

  it('is still a hit after a restart, and expires after the TTL', async () => {
    const { sql, start, token } = await setup();
    const first = await start();
    const computed = await report(first, token, { groupBy: 'SKILL' });
    await first.stop();
    const second = await start();
    const again = await report(second, token, { groupBy: 'SKILL' });
    expect(again).toEqual({ ...computed, cacheHit: true });

    await sql.query("UPDATE report_cache SET computed_at = now() - interval '31 days'");
    expect((await report(second, token, { groupBy: 'SKILL' })).cacheHit).toBe(false);
    // Expired entries are also deleted at start.
    await sql.query("UPDATE report_cache SET computed_at = now() - interval '31 days'");
    await second.stop();
    await start();
    expect(Number((await sql.query('SELECT count(*) FROM report_cache')).rows[0].count)).toBe(0);
  });

  it('misses after a write made while no server was listening (the data version moved)', async () => {
    const { sql, start, token } = await setup();
    const first = await start();
    const computed = await report(first, token, { groupBy: 'PRACTICE' });
    await first.stop();
    await sql.query('UPDATE missions SET daily_rate = daily_rate + 1 WHERE id = 1');
    const second = await start();
    const after = await report(second, token, { groupBy: 'PRACTICE' });
    expect(after.cacheHit).toBe(false);
    expect(BigInt(after.dataVersion)).toBeGreaterThan(BigInt(computed.dataVersion));
  });

  it('refuses bad parameters and anonymous callers', async () => {
    const { start, token } = await setup();
    const server = await start();
    const backwards = await server.query(
      REPORT,
      { from: '2024-12-31', to: '2024-01-01', groupBy: 'MONTH' },
      { token },
    );
    expect(expectOneError(backwards).extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'from',
    });
    const tooLong = await server.query(
      REPORT,
      { from: '2000-01-01', to: '2024-01-01', groupBy: 'MONTH' },
      { token },
    );
    expect(expectOneError(tooLong).extensions?.code).toBe('BAD_USER_INPUT');
    const anonymous = await server.query(REPORT, { ...PERIOD, groupBy: 'MONTH' });
    expect(expectOneError(anonymous).extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('GET /reports/utilization.csv', () => {
  const csvUrl = (server: TestServer, query: string) =>
    `${server.url}/reports/utilization.csv?${query}`;

  it('serves the same rows as GraphQL, from the same cache, with the same auth', async () => {
    const { start, token } = await setup();
    const server = await start();
    // The start-up fold announces the seeded tables; its notification, landing between
    // the CSV and the GraphQL request, would drop the cached report (as any change does).
    await server.waitForIdle(1_000);
    const query = `from=${PERIOD.from}&to=${PERIOD.to}&groupBy=PRACTICE`;
    const miss = await fetch(csvUrl(server, query), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(miss.status).toBe(200);
    expect(miss.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const lines = (await miss.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('key,consultants,staffed_days,available_days,utilization_rate,revenue');

    const graphql = await report(server, token, { groupBy: 'PRACTICE' });
    expect(graphql.cacheHit).toBe(true);
    expect(lines.slice(1)).toEqual(
      graphql.rows.map((row) =>
        [
          row.key,
          row.consultants,
          row.staffedDays,
          row.availableDays,
          row.utilizationRate ?? '',
          row.revenue,
        ].join(','),
      ),
    );
    const hit = await fetch(csvUrl(server, query), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    await hit.text();

    const anonymous = await fetch(csvUrl(server, query));
    expect(anonymous.status).toBe(401);
    await anonymous.text();
    const forged = await fetch(csvUrl(server, query), {
      headers: { authorization: 'Bearer nope-nope-nope' },
    });
    expect(forged.status).toBe(401);
    await forged.text();
    const bad = await fetch(csvUrl(server, 'from=2024-01-01&to=2024-13-01&groupBy=PRACTICE'), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^"to" must be a date/);
  });

  it('quotes keys that hold commas or quotes', async () => {
    const { sql, start, token } = await setup();
    await sql.query(`INSERT INTO practices (name) VALUES ('Data, "AI" & Cloud')`);
    const server = await start();
    await waitFor(async () => {
      const response = await fetch(
        csvUrl(server, 'from=2024-01-01&to=2024-01-31&groupBy=PRACTICE'),
        {
          headers: { authorization: `Bearer ${token}` },
        },
      );
      return (await response.text()).includes('"Data, ""AI"" & Cloud",0,0,0,,0\r\n');
    }, 5_000);
  });
});
