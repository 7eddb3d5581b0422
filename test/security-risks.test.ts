import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { drizzle } from 'drizzle-orm/node-postgres';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consultants } from '../src/db/schema/index.js';
import { createLogger } from '../src/logger.js';
import { AUTH_OVERRIDES, TEST_JWT_SECRET, tokenFor } from './support/auth.js';
import { createTestPool } from './support/database.js';
import { disposeAfterAll } from './support/dispose.js';
import { repositoryRoot } from './support/entry-point.js';
import { expectData, expectOneError } from './support/graphql.js';
import { startTestServer, type TestServer } from './support/server.js';

const dispose = disposeAfterAll();
let server: TestServer;

const MAX_LIFETIME_SECONDS = 3_600;

beforeAll(async () => {
  server = await startTestServer(
    { ...AUTH_OVERRIDES, JWT_MAX_LIFETIME_SECONDS: String(MAX_LIFETIME_SECONDS) },
    { disposer: dispose },
  );
});
afterAll(() => dispose.run());

const STATS = '{ stats { version } }';
const key = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

function signed(claims: { exp?: number; iat?: number }): Promise<string> {
  let jwt = new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('long-lived');
  if (claims.iat !== undefined) jwt = jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
  return jwt.sign(key);
}

async function expectRefusedToken(token: string, reason: RegExp) {
  const result = await server.query(STATS, {}, { token });
  expect(result.status).toBe(401);
  const error = expectOneError(result);
  expect(error.extensions?.code).toBe('UNAUTHENTICATED');
  expect(error.message).toMatch(reason);
}

describe('JWT lifetime', () => {
  it('refuses a correctly signed token without exp', async () => {
    await expectRefusedToken(await signed({ iat: now() }), /no expiry/);
    await expectRefusedToken(await signed({}), /no expiry/);
  });

  it('refuses a token whose lifetime exceeds JWT_MAX_LIFETIME_SECONDS, and accepts one within it', async () => {
    await expectRefusedToken(
      await signed({ iat: now(), exp: now() + MAX_LIFETIME_SECONDS + 60 }),
      /lifetime/,
    );
    // Without iat, the lifetime left is what counts.
    await expectRefusedToken(await signed({ exp: now() + 30 * 86_400 }), /lifetime/);
    const fine = await signed({ iat: now(), exp: now() + MAX_LIFETIME_SECONDS - 60 });
    expect(expectData(await server.query(STATS, {}, { token: fine })).stats.version).toMatch(
      /^\d+$/,
    );
  });

  it('npm run token refuses to mint a token longer-lived than the maximum', async () => {
    const run = (expires: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/token.ts', '--role', 'admin', '--expires', expires],
          {
            cwd: repositoryRoot,
            env: {
              PATH: process.env.PATH,
              DATABASE_URL: server.databaseUrl,
              JWT_SECRET: TEST_JWT_SECRET,
              JWT_MAX_LIFETIME_SECONDS: String(MAX_LIFETIME_SECONDS),
            },
            timeout: 60_000,
          },
          (error, stdout, stderr) =>
            resolve({
              code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
              stdout,
              stderr,
            }),
        );
      });
    const refused = await run('2h');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/--expires: at most 3600 s \(JWT_MAX_LIFETIME_SECONDS\)/);
    const minted = await run('30m');
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(expectData(await server.query(STATS, {}, { token })).stats.version).toMatch(/^\d+$/);
  });
});

describe('introspection while anonymous reads are off', () => {
  it('is refused to an anonymous caller, even where introspection is on, and answered to a viewer', async () => {
    for (const document of [
      '{ __schema { queryType { name } } }',
      '{ __type(name: "Consultant") { name } }',
      'query { ...F } fragment F on Query { __schema { types { name } } }',
    ]) {
      const anonymous = await server.query(document);
      expect(anonymous.status).toBe(401);
      expect(expectOneError(anonymous).extensions?.code).toBe('UNAUTHENTICATED');
      expect(anonymous.body.data ?? null).toBeNull();
    }
    const viewer = await tokenFor('viewer');
    const answered = await server.query(
      '{ __schema { queryType { name } } }',
      {},
      { token: viewer },
    );
    expect(expectData(answered).__schema.queryType.name).toBe('Query');
  });

  it('stays open to anonymous callers where anonymous reads are on', async () => {
    const open = await startTestServer({}, { disposer: dispose, database: server.databaseUrl });
    const answered = await open.query('{ __schema { queryType { name } } }');
    expect(expectData(answered).__schema.queryType.name).toBe('Query');
  });
});

describe('failed statements in the log', () => {
  it('never carry parameter values: not drizzle params, not PostgreSQL detail', async () => {
    const pool = createTestPool(server.databaseUrl);
    dispose.add(() => pool.end());
    const db = drizzle(pool);
    const email = 'secret.person.4711@example.com';
    const { rows } = await pool.query('SELECT practice_id FROM consultants WHERE id = 1');
    const row = {
      firstName: 'Secret',
      lastName: 'Person',
      email,
      practiceId: rows[0].practice_id as number,
      grade: 'SENIOR' as const,
      dailyRate: 800,
    };
    await db.insert(consultants).values(row);
    // The same email again: a unique violation whose detail repeats the value.
    const failure = await db
      .insert(consultants)
      .values(row)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(Error);
    // A value in the message itself, and in `where` ("unnamed portal parameter $1 = '…'").
    const badInteger = await pool.query('SELECT $1::int', [email]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(badInteger).toBeInstanceOf(Error);

    const lines: string[] = [];
    const log = createLogger('info', {
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    log.error({ err: failure }, 'failed statement');
    log.error({ err: badInteger }, 'failed statement');
    log.error({ err: new Error('wrapper', { cause: failure }) }, 'failed statement');
    expect(lines).toHaveLength(3);
    const output = lines.join('');
    expect(output).not.toContain('secret.person');
    expect(output).not.toContain('4711');
    // What debugging needs stays: the code, the constraint, the statement text.
    const [unique] = lines.map((line) => JSON.parse(line));
    expect(unique.err.cause).toMatchObject({ code: '23505', constraint: expect.any(String) });
    expect(unique.err.statement).toMatch(/^insert into "consultants"/);
  });
});

describe('CSV export', () => {
  it('neutralises cells a spreadsheet would evaluate (OWASP): = + - @ tab CR', async () => {
    const pool = createTestPool(server.databaseUrl);
    dispose.add(() => pool.end());
    const names = ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\tTab', '\rReturn'];
    for (const [index, name] of names.entries()) {
      await pool.query('UPDATE practices SET name = $2 WHERE id = $1', [index + 1, name]);
    }
    const response = await fetch(
      `${server.url}/reports/utilization.csv?from=2024-01-01&to=2024-12-31&groupBy=PRACTICE&forceRefresh=true`,
      { headers: { authorization: `Bearer ${await tokenFor('viewer')}` } },
    );
    expect(response.status).toBe(200);
    const text = await response.text();
    for (const name of names) {
      // Prefixed with a quote, inside a quoted field (its quotes doubled).
      expect(text).toContain(`"'${name.replaceAll('"', '""')}"`);
    }
    // No line (after the header) starts with a formula character.
    const fields = text.split('\r\n').slice(1).filter(Boolean);
    for (const line of fields) expect(line).not.toMatch(/^[=+\-@\t\r]/);
    // Numbers are numbers: not quoted, not prefixed.
    expect(fields[0]).toMatch(/,\d+,\d+,\d+,/);
  });
});
