import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OVERRIDES, tokenFor } from './support/auth.js';
import { createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import { expectData, expectOneError, globalId } from './support/graphql.js';
import { type QueryResult, startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
let server: TestServer;
let sql: pg.Pool;
let admin: string;
let viewer: string;

beforeAll(async () => {
  server = await startTestServer(AUTH_OVERRIDES, { disposer: dispose });
  sql = createTestPool(server.databaseUrl);
  dispose.add(() => sql.end());
  admin = await tokenFor('admin', 'alice');
  viewer = await tokenFor('viewer', 'victor');
});
afterAll(() => dispose.run());

const RESULT_FIELDS = `
  __typename
  ... on MutationError { message }
  ... on ValidationError { fieldErrors { path code message } }`;

const CREATE_CONSULTANT = `mutation($input: CreateConsultantInput!) {
  createConsultant(input: $input) {
    ${RESULT_FIELDS}
    ... on CreateConsultantPayload { consultant { id email fullName dailyRate practice { name } } }
  }
}`;

async function scalar<T = number>(text: string, values: unknown[] = []): Promise<T> {
  const { rows } = await sql.query(text, values);
  return Object.values(rows[0] ?? {})[0] as T;
}

const countOf = (table: string, where = 'true', values: unknown[] = []) =>
  scalar<string>(`SELECT count(*) FROM ${table} WHERE ${where}`, values).then(Number);

const auditCount = (operation: string, success: boolean) =>
  countOf('audit_logs', 'operation = $1 AND success = $2', [operation, success]);

function newConsultant(overrides: Record<string, unknown> = {}) {
  return {
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: `ada.${Math.random().toString(36).slice(2)}@example.com`,
    practiceId: globalId('Practice', 1),
    grade: 'SENIOR',
    dailyRate: 900,
    ...overrides,
  };
}

function fieldErrors(result: QueryResult, field: string) {
  const payload = expectData(result)[field];
  expect(payload.__typename, JSON.stringify(payload)).toBe('ValidationError');
  return (payload.fieldErrors as { path: string[]; code: string }[]).map(
    (error) => `${error.path.join('.')}:${error.code}`,
  );
}

/** Runs `act` and returns how the audit rows of `operation` moved. */
async function auditDelta(operation: string, act: () => Promise<unknown>) {
  const [ok, failed] = [await auditCount(operation, true), await auditCount(operation, false)];
  await act();
  return {
    success: (await auditCount(operation, true)) - ok,
    failure: (await auditCount(operation, false)) - failed,
  };
}

describe('createConsultant', () => {
  it('creates a consultant and its audit row, in one transaction', async () => {
    const input = newConsultant({ email: '  Ada.Create@Example.com ' });
    let result: QueryResult | undefined;
    const delta = await auditDelta('createConsultant', async () => {
      result = await server.query(CREATE_CONSULTANT, { input }, { token: admin });
    });
    const payload = expectData(result as QueryResult).createConsultant;
    expect(payload.__typename).toBe('CreateConsultantPayload');
    expect(payload.consultant).toMatchObject({
      email: 'ada.create@example.com',
      fullName: 'Ada Lovelace',
      dailyRate: 900,
    });
    expect(delta).toEqual({ success: 1, failure: 0 });
    const [row] = (
      await sql.query(
        `SELECT actor, resource_type, resource_id, details FROM audit_logs
         WHERE operation = 'createConsultant' AND success ORDER BY id DESC LIMIT 1`,
      )
    ).rows;
    const id = Buffer.from(payload.consultant.id, 'base64').toString().split(':')[1];
    expect(row).toMatchObject({ actor: 'alice', resource_type: 'Consultant', resource_id: id });
    // Field names only: no personal data or secrets in the trail.
    expect(JSON.stringify(row.details)).not.toContain('example.com');
    expect(await countOf('consultants', 'email = $1', ['ada.create@example.com'])).toBe(1);
  });

  it.each([
    ['a malformed email', { email: 'not-an-email' }, ['input.email:INVALID']],
    [
      'an unknown practice',
      { practiceId: globalId('Practice', 999) },
      ['input.practiceId:NOT_FOUND'],
    ],
    ['an id of the wrong type', { practiceId: globalId('Skill', 1) }, ['input.practiceId:INVALID']],
    ['a zero daily rate', { dailyRate: 0 }, ['input.dailyRate:OUT_OF_RANGE']],
    ['a blank name', { firstName: '   ' }, ['input.firstName:INVALID']],
    [
      'several mistakes at once',
      { lastName: '', dailyRate: -5 },
      ['input.lastName:INVALID', 'input.dailyRate:OUT_OF_RANGE'],
    ],
  ])('refuses %s with typed errors and writes nothing', async (_label, overrides, expected) => {
    const before = await countOf('consultants');
    let result: QueryResult | undefined;
    const delta = await auditDelta('createConsultant', async () => {
      result = await server.query(
        CREATE_CONSULTANT,
        { input: newConsultant(overrides) },
        { token: admin },
      );
    });
    expect(fieldErrors(result as QueryResult, 'createConsultant')).toEqual(expected);
    expect(await countOf('consultants')).toBe(before);
    expect(delta).toEqual({ success: 0, failure: 1 });
  });

  it('refuses an email already in use (case-insensitively)', async () => {
    const existing = await scalar<string>('SELECT email FROM consultants ORDER BY id LIMIT 1');
    const result = await server.query(
      CREATE_CONSULTANT,
      { input: newConsultant({ email: existing.toUpperCase() }) },
      { token: admin },
    );
    expect(fieldErrors(result, 'createConsultant')).toEqual(['input.email:TAKEN']);
  });

  it('answers UNAUTHENTICATED without a token and FORBIDDEN for a viewer, writing nothing but the audit row', async () => {
    const before = await countOf('consultants');
    for (const [token, code, actor] of [
      [undefined, 'UNAUTHENTICATED', 'anonymous'],
      [viewer, 'FORBIDDEN', 'victor'],
    ] as const) {
      let result: QueryResult | undefined;
      const delta = await auditDelta('createConsultant', async () => {
        result = await server.query(CREATE_CONSULTANT, { input: newConsultant() }, { token });
      });
      const error = expectOneError(result as QueryResult);
      expect(error.extensions?.code).toBe(code);
      expect(result?.body.data?.createConsultant ?? null).toBeNull();
      expect(delta).toEqual({ success: 0, failure: 1 });
      const details = await scalar(
        `SELECT details FROM audit_logs WHERE operation = 'createConsultant' AND actor = $1
         ORDER BY id DESC LIMIT 1`,
        [actor],
      );
      // Refusals are counted rows (see refusal-limits.test.ts): the first of its kind says 1.
      expect(details).toMatchObject({ error: code, count: 1, address: '127.0.0.1' });
    }
    expect(await countOf('consultants')).toBe(before);
  });

  it('rejects an invalid token outright', async () => {
    const result = await server.query(
      CREATE_CONSULTANT,
      { input: newConsultant() },
      { token: `${admin.slice(0, -4)}AAAA` },
    );
    expect(result.status).toBe(401);
    expect(expectOneError(result).extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('keeps neither the write nor its audit row when the transaction fails after the write', async () => {
    // A deferred constraint trigger fails the commit, after both rows were written.
    await sql.query(`
      CREATE FUNCTION fail_doomed_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'forced failure at commit'; END $$;
      CREATE CONSTRAINT TRIGGER fail_doomed_commit AFTER INSERT ON audit_logs
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW.actor = 'doomed' AND NEW.success) EXECUTE FUNCTION fail_doomed_commit();`);
    try {
      const doomed = await tokenFor('admin', 'doomed');
      const input = newConsultant();
      const result = await server.query(CREATE_CONSULTANT, { input }, { token: doomed });
      const error = expectOneError(result);
      expect(error.message).toBe('Unexpected error.');
      expect(error.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(result.text).not.toContain('forced failure');
      expect(await countOf('consultants', 'email = $1', [input.email])).toBe(0);
      expect(await countOf('audit_logs', "actor = 'doomed' AND success")).toBe(0);
      // The failed attempt itself is on record.
      expect(await countOf('audit_logs', "actor = 'doomed' AND NOT success")).toBe(1);
      expect(await scalar("SELECT details->>'error' FROM audit_logs WHERE actor = 'doomed'")).toBe(
        'INTERNAL',
      );
    } finally {
      await sql.query(`DROP TRIGGER fail_doomed_commit ON audit_logs;
        DROP FUNCTION fail_doomed_commit();`);
    }
  });
});

async function createConsultant(overrides: Record<string, unknown> = {}): Promise<string> {
  const result = await server.query(
    CREATE_CONSULTANT,
    { input: newConsultant(overrides) },
    { token: admin },
  );
  return expectData(result).createConsultant.consultant.id;
}

describe('updateConsultant and deleteConsultant', () => {
  const UPDATE = `mutation($input: UpdateConsultantInput!) {
    updateConsultant(input: $input) {
      ${RESULT_FIELDS}
      ... on UpdateConsultantPayload { consultant { id lastName dailyRate availability } }
    }
  }`;
  const DELETE = `mutation($input: DeleteConsultantInput!) {
    deleteConsultant(input: $input) {
      ${RESULT_FIELDS}
      ... on DeleteConsultantPayload { deletedConsultantId }
    }
  }`;

  it('updates the given fields only', async () => {
    const id = await createConsultant();
    const delta = await auditDelta('updateConsultant', async () => {
      const result = await server.query(
        UPDATE,
        { input: { id, dailyRate: 1100, availability: 'UNAVAILABLE' } },
        { token: admin },
      );
      expect(expectData(result).updateConsultant.consultant).toMatchObject({
        id,
        lastName: 'Lovelace',
        dailyRate: 1100,
        availability: 'UNAVAILABLE',
      });
    });
    expect(delta).toEqual({ success: 1, failure: 0 });
    expect(
      await scalar(
        "SELECT details FROM audit_logs WHERE operation = 'updateConsultant' ORDER BY id DESC LIMIT 1",
      ),
    ).toEqual({ fields: ['dailyRate', 'availability'] });
  });

  it('refuses an unknown id, a taken email, an empty change', async () => {
    const id = await createConsultant();
    const taken = await scalar<string>('SELECT email FROM consultants ORDER BY id LIMIT 1');
    const cases: [Record<string, unknown>, string[]][] = [
      [{ id: globalId('Consultant', 9_999_999), dailyRate: 5 }, ['input.id:NOT_FOUND']],
      [{ id, email: taken }, ['input.email:TAKEN']],
      [{ id }, ['input:INVALID']],
      [{ id: globalId('Mission', 1), dailyRate: 5 }, ['input.id:INVALID']],
    ];
    for (const [input, expected] of cases) {
      const result = await server.query(UPDATE, { input }, { token: admin });
      expect(fieldErrors(result, 'updateConsultant')).toEqual(expected);
    }
  });

  it('deletes a consultant, then reports it missing', async () => {
    const id = await createConsultant();
    const deleted = await server.query(DELETE, { input: { id } }, { token: admin });
    expect(expectData(deleted).deleteConsultant.deletedConsultantId).toBe(id);
    const again = await server.query(DELETE, { input: { id } }, { token: admin });
    expect(fieldErrors(again, 'deleteConsultant')).toEqual(['input.id:NOT_FOUND']);
    const forbidden = await server.query(DELETE, { input: { id } }, { token: viewer });
    expect(expectOneError(forbidden).extensions?.code).toBe('FORBIDDEN');
  });
});

describe('setConsultantSkills', () => {
  const SET = `mutation($input: SetConsultantSkillsInput!) {
    setConsultantSkills(input: $input) {
      ${RESULT_FIELDS}
      ... on SetConsultantSkillsPayload { consultant { skills { level skill { id } } } }
    }
  }`;

  it('replaces the skill set', async () => {
    const id = await createConsultant();
    const skills = [
      { skillId: globalId('Skill', 2), level: 5 },
      { skillId: globalId('Skill', 3), level: 2 },
    ];
    const result = await server.query(
      SET,
      { input: { consultantId: id, skills } },
      { token: admin },
    );
    const got = expectData(result).setConsultantSkills.consultant.skills;
    expect(got).toEqual([
      { level: 5, skill: { id: globalId('Skill', 2) } },
      { level: 2, skill: { id: globalId('Skill', 3) } },
    ]);
    const cleared = await server.query(
      SET,
      { input: { consultantId: id, skills: [] } },
      { token: admin },
    );
    expect(expectData(cleared).setConsultantSkills.consultant.skills).toEqual([]);
  });

  it('refuses bad levels, unknown and duplicate skills, an unknown consultant', async () => {
    const id = await createConsultant();
    const before = await countOf('consultant_skills');
    const result = await server.query(
      SET,
      {
        input: {
          consultantId: id,
          skills: [
            { skillId: globalId('Skill', 2), level: 6 },
            { skillId: globalId('Skill', 99_999), level: 3 },
            { skillId: globalId('Skill', 2), level: 1 },
          ],
        },
      },
      { token: admin },
    );
    expect(fieldErrors(result, 'setConsultantSkills').sort()).toEqual(
      [
        'input.skills.0.level:OUT_OF_RANGE',
        'input.skills.1.skillId:NOT_FOUND',
        'input.skills.2.skillId:INVALID',
      ].sort(),
    );
    const missing = await server.query(
      SET,
      { input: { consultantId: globalId('Consultant', 9_999_999), skills: [] } },
      { token: admin },
    );
    expect(fieldErrors(missing, 'setConsultantSkills')).toEqual(['input.consultantId:NOT_FOUND']);
    expect(await countOf('consultant_skills')).toBe(before);
  });
});

describe('missions', () => {
  const CREATE = `mutation($input: CreateMissionInput!) {
    createMission(input: $input) {
      ${RESULT_FIELDS}
      ... on CreateMissionPayload { mission { id client status startDate endDate consultant { id } } }
    }
  }`;
  const UPDATE = `mutation($input: UpdateMissionInput!) {
    updateMission(input: $input) {
      ${RESULT_FIELDS}
      ... on UpdateMissionPayload { mission { id title startDate endDate dailyRate } }
    }
  }`;
  const END = `mutation($input: EndMissionInput!) {
    endMission(input: $input) {
      ${RESULT_FIELDS}
      ... on EndMissionPayload { mission { id status endDate } }
    }
  }`;

  const mission = (consultantId: string, overrides: Record<string, unknown> = {}) => ({
    consultantId,
    client: 'Banque de France',
    title: 'Data platform',
    startDate: '2026-01-05',
    dailyRate: 850,
    ...overrides,
  });

  it('creates, updates and ends a mission, each audited', async () => {
    const consultantId = await createConsultant();
    const created = expectData(
      await server.query(CREATE, { input: mission(consultantId) }, { token: admin }),
    ).createMission.mission;
    expect(created).toMatchObject({
      status: 'ACTIVE',
      endDate: null,
      consultant: { id: consultantId },
    });

    const updated = expectData(
      await server.query(
        UPDATE,
        { input: { id: created.id, title: 'Data mesh', endDate: '2026-06-30' } },
        { token: admin },
      ),
    ).updateMission.mission;
    expect(updated).toMatchObject({ title: 'Data mesh', endDate: '2026-06-30', dailyRate: 850 });

    const delta = await auditDelta('endMission', async () => {
      const ended = expectData(
        await server.query(
          END,
          { input: { id: created.id, endDate: '2026-03-31' } },
          { token: admin },
        ),
      ).endMission.mission;
      expect(ended).toMatchObject({ status: 'COMPLETED', endDate: '2026-03-31' });
    });
    expect(delta).toEqual({ success: 1, failure: 0 });

    const again = await server.query(END, { input: { id: created.id } }, { token: admin });
    expect(fieldErrors(again, 'endMission')).toEqual(['input.id:CONFLICT']);
  });

  it('refuses dates out of order, unknown ids and bad rates', async () => {
    const consultantId = await createConsultant();
    const before = await countOf('missions');
    const cases: [string, string, Record<string, unknown>, string[]][] = [
      [
        CREATE,
        'createMission',
        mission(consultantId, { endDate: '2025-12-31' }),
        ['input.endDate:OUT_OF_RANGE'],
      ],
      [
        CREATE,
        'createMission',
        mission(globalId('Consultant', 9_999_999), { dailyRate: 0 }),
        ['input.consultantId:NOT_FOUND', 'input.dailyRate:OUT_OF_RANGE'],
      ],
      [
        UPDATE,
        'updateMission',
        { id: globalId('Mission', 9_999_999), title: 'x' },
        ['input.id:NOT_FOUND'],
      ],
      [END, 'endMission', { id: globalId('Mission', 9_999_999) }, ['input.id:NOT_FOUND']],
    ];
    for (const [document, field, input, expected] of cases) {
      const result = await server.query(document, { input }, { token: admin });
      expect(fieldErrors(result, field), field).toEqual(expected);
    }
    expect(await countOf('missions')).toBe(before);

    const id = expectData(
      await server.query(CREATE, { input: mission(consultantId) }, { token: admin }),
    ).createMission.mission.id;
    const early = await server.query(
      END,
      { input: { id, endDate: '2025-01-01' } },
      { token: admin },
    );
    expect(fieldErrors(early, 'endMission')).toEqual(['input.endDate:OUT_OF_RANGE']);
    const late = await server.query(
      UPDATE,
      { input: { id, startDate: '2030-01-01', endDate: '2029-01-01' } },
      { token: admin },
    );
    expect(fieldErrors(late, 'updateMission')).toEqual(['input.endDate:OUT_OF_RANGE']);
  });

  it('accepts an admin API key and records its name as the actor', async () => {
    const consultantId = await createConsultant();
    const result = await server.query(
      CREATE,
      { input: mission(consultantId) },
      { token: AUTH_OVERRIDES.API_KEYS?.split(',')[0]?.split(':')[2] },
    );
    const id = expectData(result).createMission.mission.id;
    const databaseId = Buffer.from(id, 'base64').toString().split(':')[1];
    expect(
      await scalar(
        "SELECT actor FROM audit_logs WHERE operation = 'createMission' AND resource_id = $1",
        [databaseId],
      ),
    ).toBe('ops-script');
  });
});
