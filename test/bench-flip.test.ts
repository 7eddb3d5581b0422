import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAvailabilityFlipper } from '../bench/lib/availability.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

/** The seed's rule: ON_MISSION exactly when the consultant has an ACTIVE mission. */
const RULE_BREAKERS = `
SELECT count(*)::int AS n FROM consultants c
WHERE (c.availability = 'ON_MISSION') <>
  EXISTS (SELECT 1 FROM missions m WHERE m.consultant_id = c.id AND m.status = 'ACTIVE')`;

const AVAILABILITY = 'SELECT id, availability FROM consultants ORDER BY id';

describe("the bench's availability flip", () => {
  let database: TestDatabase;
  let writer: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    writer = new pg.Client({ connectionString: database.url });
    await writer.connect();
  });

  afterAll(async () => {
    await writer?.end();
    await database?.drop();
  });

  it('toggles only AVAILABLE and UNAVAILABLE, and puts the data back as the seed made it', async () => {
    expect((await writer.query(RULE_BREAKERS)).rows[0]).toEqual({ n: 0 });
    const seeded = (await writer.query(AVAILABILITY)).rows;
    const flipper = await createAvailabilityFlipper(writer, 10);
    // Two and a half turns of the rotation: some consultants end toggled, some back.
    for (let i = 0; i < 25; i += 1) await flipper.flip();
    expect(flipper.toggled).toBe(5);
    const during = (await writer.query(AVAILABILITY)).rows;
    const changed = during.filter((row, i) => row.availability !== seeded[i]?.availability);
    expect(changed).toHaveLength(5);
    expect(changed.every((row) => row.availability !== 'ON_MISSION')).toBe(true);
    expect((await writer.query(RULE_BREAKERS)).rows[0]).toEqual({ n: 0 });

    expect(await flipper.restore()).toBe(5);
    expect((await writer.query(AVAILABILITY)).rows).toEqual(seeded);
  });
});
