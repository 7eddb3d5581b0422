/**
 * Simulates staffing activity by writing straight into PostgreSQL, as another
 * application sharing the database would, so that the live statistics have
 * something to show.
 * Every tick runs one random, realistic change in its own transaction:
 *
 *   new-mission     staff a consultant (mostly an AVAILABLE one) on a new ACTIVE mission
 *                   (their previous ACTIVE mission, if any, ends as COMPLETED today;
 *                   they become ON_MISSION)
 *   end-mission     a random ACTIVE mission ends (COMPLETED, end_date today; the consultant becomes AVAILABLE)
 *   availability    a consultant who is not on mission goes AVAILABLE <-> UNAVAILABLE
 *   new-consultant  a new AVAILABLE consultant (unique email) with 3 skills
 *   daily-rate      a consultant's daily_rate moves by -5 % to +10 %
 *
 *   npx tsx client-examples/simulate-writes.ts [--database-url postgres://…] [--rate N] [--duration S] [--verbose]
 *
 * With no --database-url it writes to the embedded PostgreSQL that `npm start`
 * runs (no DATABASE_URL), found through PostgreSQL's lock file in its data
 * folder (`.data/postgres`, or EMBEDDED_PG_DIR as the API reads it).
 *
 * --verbose prints every committed change with its commit time, to compare
 * with the times the subscription examples print.
 *
 * Use a local database (127.0.0.1 / localhost), never a shared one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakerFR as faker } from '@faker-js/faker';
import pg from 'pg';
import { clockTime, describeError, fail, onInterrupt, parseFlags, usageError } from './shared.js';

const USAGE =
  'npx tsx client-examples/simulate-writes.ts [--database-url postgres://USER:PASSWORD@127.0.0.1:PORT/DB (default: the embedded PostgreSQL of npm start)] [--rate N (per second, default 5)] [--duration S] [--verbose]';

const flags = parseFlags(USAGE, {
  'database-url': { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
});
const verbose = flags.verbose === true;
const databaseUrl =
  flags['database-url'] === undefined
    ? embeddedDatabaseUrl()
    : parseDatabaseUrl(flags['database-url']);
const rate = parsePositive('rate', flags.rate, 5, 1000);
const durationS =
  flags.duration === undefined ? undefined : parsePositive('duration', flags.duration, 0, 86_400);

// ---------------------------------------------------------------------------
// The changes

type Kind = 'new-mission' | 'end-mission' | 'availability' | 'new-consultant' | 'daily-rate';

/** How often each change is drawn, out of the sum of the weights. */
const WEIGHTS: Record<Kind, number> = {
  'new-mission': 30,
  'end-mission': 22,
  availability: 15,
  'new-consultant': 10,
  'daily-rate': 23,
};
/** Share of new missions given to a consultant already on mission (a switch, not a staffing). */
const SWITCH_SHARE = 0.2;
const KINDS = Object.keys(WEIGHTS) as Kind[];

const GRADES = [
  // grade, share of hires, daily rate range in euros
  { grade: 'JUNIOR', weight: 30, min: 350, max: 550 },
  { grade: 'CONSULTANT', weight: 30, min: 450, max: 750 },
  { grade: 'SENIOR', weight: 20, min: 580, max: 980 },
  { grade: 'MANAGER', weight: 12, min: 760, max: 1240 },
  { grade: 'DIRECTOR', weight: 5, min: 1000, max: 1500 },
  { grade: 'PARTNER', weight: 3, min: 1300, max: 1800 },
] as const;

const MISSION_TOPICS = [
  'Migration vers le cloud',
  'Refonte du SI de facturation',
  'Plateforme data et tableaux de bord',
  'Audit de sécurité applicative',
  'Mise en place de la CI/CD',
  'Modernisation de l’application mobile',
  'Déploiement SAP S/4HANA',
  'Cadrage d’un cas d’usage IA générative',
  'Accompagnement agile des équipes produit',
  'Optimisation FinOps des coûts cloud',
] as const;
const MISSION_PHASES = ['cadrage', 'build', 'run', 'pilote', 'industrialisation'] as const;

/** SQLSTATEs worth a new attempt: deadlock, serialization failure, unique violation (email). */
const RETRYABLE = new Set(['40P01', '40001', '23505']);
const MAX_ATTEMPTS = 3;
/** Transactions allowed in flight at once; a tick finding them all busy is skipped. */
const MAX_IN_FLIGHT = 8;

const pool = new pg.Pool({
  connectionString: databaseUrl.href,
  max: MAX_IN_FLIGHT,
  application_name: 'consultator-simulate-writes',
  statement_timeout: 10_000,
  connectionTimeoutMillis: 10_000,
});
// An idle connection the server closes (restart, shutdown) must not crash us.
pool.on('error', (error) =>
  console.error(`warning: idle connection lost: ${describeError(error)}`),
);

/** Unique per run, so emails of the consultants it creates never collide. */
const runId = Date.now().toString(36);
let consultantSeq = 0;
let practiceIds: number[] = [];
let skillIds: number[] = [];

interface Outcome {
  /** False when nothing was there to change (e.g. no ACTIVE mission left). */
  changed: boolean;
  /** What changed, for --verbose. */
  detail?: string;
}

const actions: Record<Kind, (c: pg.PoolClient) => Promise<Outcome>> = {
  async 'new-mission'(c) {
    // Mostly staff someone from the bench; sometimes move a consultant from
    // one mission to the next. Nobody UNAVAILABLE is staffed.
    const consultant =
      (await pickConsultant(
        c,
        Math.random() < SWITCH_SHARE ? `availability = 'ON_MISSION'` : `availability = 'AVAILABLE'`,
      )) ?? (await pickConsultant(c, `availability <> 'UNAVAILABLE'`));
    if (!consultant) return { changed: false };
    // Locks: the consultant row first (pickConsultant), then their missions,
    // in every change, so concurrent transactions cannot deadlock.
    const previous = await c.query<{ id: string }>(
      `UPDATE missions
          SET status = 'COMPLETED', end_date = GREATEST(current_date, start_date), updated_at = now()
        WHERE consultant_id = $1 AND status = 'ACTIVE'
        RETURNING id`,
      [consultant.id],
    );
    const missionRate = roundTo10(
      consultant.dailyRate * faker.number.float({ min: 0.95, max: 1.25 }),
    );
    const client = clientName();
    const mission = await c.query<{ id: string }>(
      `INSERT INTO missions (consultant_id, client, title, start_date, end_date, daily_rate, status)
       VALUES ($1, $2, $3, current_date, NULL, $4, 'ACTIVE')
       RETURNING id`,
      [consultant.id, client, missionTitle(), missionRate],
    );
    await c.query(
      `UPDATE consultants SET availability = 'ON_MISSION', updated_at = now() WHERE id = $1`,
      [consultant.id],
    );
    const ended = previous.rows.map((r) => `#${r.id}`).join(', ');
    return {
      changed: true,
      detail:
        `consultant #${consultant.id} starts mission #${mission.rows[0]?.id} at ${client}` +
        ` (${missionRate} €/day)${ended ? `, mission ${ended} completed` : ''}`,
    };
  },

  async 'end-mission'(c) {
    const pivot = await randomConsultantId(c);
    if (pivot === undefined) return { changed: false };
    // A random ACTIVE mission through the partial index on ACTIVE missions.
    const pickMission = (op: '>=' | '<') =>
      c.query<{ id: string; consultant_id: number }>(
        `SELECT id, consultant_id FROM missions
          WHERE status = 'ACTIVE' AND consultant_id ${op} $1
          ORDER BY consultant_id LIMIT 1`,
        [pivot],
      );
    const found = (await pickMission('>=')).rows[0] ?? (await pickMission('<')).rows[0];
    if (!found) return { changed: false };
    const locked = await c.query(`SELECT 1 FROM consultants WHERE id = $1 FOR UPDATE SKIP LOCKED`, [
      found.consultant_id,
    ]);
    if (locked.rowCount === 0) return { changed: false }; // another tick is changing them
    const ended = await c.query(
      `UPDATE missions
          SET status = 'COMPLETED', end_date = GREATEST(current_date, start_date), updated_at = now()
        WHERE id = $1 AND status = 'ACTIVE'`,
      [found.id],
    );
    if (ended.rowCount === 0) return { changed: false };
    await c.query(
      `UPDATE consultants SET availability = 'AVAILABLE', updated_at = now()
        WHERE id = $1
          AND NOT EXISTS (SELECT 1 FROM missions WHERE consultant_id = $1 AND status = 'ACTIVE')`,
      [found.consultant_id],
    );
    return {
      changed: true,
      detail: `mission #${found.id} of consultant #${found.consultant_id} completed`,
    };
  },

  async availability(c) {
    // Someone goes on leave or comes back, either way equally often (so the
    // bench does not drift to half UNAVAILABLE). Consultants on mission keep
    // ON_MISSION: only their missions change that.
    const [from, to] = faker.helpers.shuffle([`'AVAILABLE'`, `'UNAVAILABLE'`]);
    const consultant =
      (await pickConsultant(c, `availability = ${from}`)) ??
      (await pickConsultant(c, `availability = ${to}`));
    if (!consultant) return { changed: false };
    const next = consultant.availability === 'AVAILABLE' ? 'UNAVAILABLE' : 'AVAILABLE';
    await c.query(`UPDATE consultants SET availability = $2, updated_at = now() WHERE id = $1`, [
      consultant.id,
      next,
    ]);
    return {
      changed: true,
      detail: `consultant #${consultant.id} ${consultant.availability} -> ${next}`,
    };
  },

  async 'new-consultant'(c) {
    const firstName = faker.person.firstName();
    const lastName = faker.person.lastName();
    consultantSeq += 1;
    const email = `${slug(firstName)}.${slug(lastName)}.sim-${runId}-${consultantSeq}@consultator.fr`;
    const profile = pickWeighted(GRADES, (g) => g.weight);
    const dailyRate = roundTo10(faker.number.int({ min: profile.min, max: profile.max }));
    const inserted = await c.query<{ id: number }>(
      `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
       VALUES ($1, $2, $3, $4, $5, $6, 'AVAILABLE')
       RETURNING id`,
      [
        firstName,
        lastName,
        email,
        faker.helpers.arrayElement(practiceIds),
        profile.grade,
        dailyRate,
      ],
    );
    const id = inserted.rows[0]?.id;
    const skills = faker.helpers.arrayElements(skillIds, 3);
    const levels = skills.map(() => faker.number.int({ min: 1, max: 5 }));
    await c.query(
      `INSERT INTO consultant_skills (consultant_id, skill_id, level)
       SELECT $1, skill_id, level FROM unnest($2::int[], $3::int[]) AS s(skill_id, level)`,
      [id, skills, levels],
    );
    return {
      changed: true,
      detail: `consultant #${id} ${firstName} ${lastName} hired (${profile.grade}, ${dailyRate} €/day, 3 skills)`,
    };
  },

  async 'daily-rate'(c) {
    const consultant = await pickConsultant(c, 'true');
    if (!consultant) return { changed: false };
    let next = roundTo10(consultant.dailyRate * faker.number.float({ min: 0.95, max: 1.1 }));
    if (next === consultant.dailyRate) next += 10;
    await c.query(`UPDATE consultants SET daily_rate = $2, updated_at = now() WHERE id = $1`, [
      consultant.id,
      next,
    ]);
    return {
      changed: true,
      detail: `consultant #${consultant.id} daily rate ${consultant.dailyRate} -> ${next} €/day`,
    };
  },
};

interface PickedConsultant {
  id: number;
  dailyRate: number;
  availability: string;
}

/** A random id between the smallest and the largest consultant id. */
async function randomConsultantId(c: pg.PoolClient): Promise<number | undefined> {
  const { rows } = await c.query<{ lo: number | null; hi: number | null }>(
    'SELECT min(id) AS lo, max(id) AS hi FROM consultants',
  );
  const { lo, hi } = rows[0] ?? { lo: null, hi: null };
  if (lo === null || hi === null) return undefined;
  return faker.number.int({ min: lo, max: hi });
}

/**
 * Locks and returns a random consultant matching `condition` (a fixed SQL
 * predicate): the first match at or after a random id, wrapping around.
 * Rows another tick holds are skipped rather than waited for.
 */
async function pickConsultant(
  c: pg.PoolClient,
  condition: string,
): Promise<PickedConsultant | undefined> {
  const pivot = await randomConsultantId(c);
  if (pivot === undefined) return undefined;
  for (const op of ['>=', '<']) {
    const { rows } = await c.query<{ id: number; daily_rate: number; availability: string }>(
      `SELECT id, daily_rate, availability FROM consultants
        WHERE id ${op} $1 AND ${condition}
        ORDER BY id LIMIT 1
        FOR UPDATE SKIP LOCKED`,
      [pivot],
    );
    const row = rows[0];
    if (row) return { id: row.id, dailyRate: row.daily_rate, availability: row.availability };
  }
  return undefined;
}

async function inTransaction(kind: Kind): Promise<Outcome> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const outcome = await actions[kind](client);
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      const code = (error as { code?: string }).code;
      if (attempt < MAX_ATTEMPTS && code && RETRYABLE.has(code)) {
        retried += 1;
        continue;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

// ---------------------------------------------------------------------------
// Pacing and reporting

const totals = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
let committed = 0;
let noop = 0;
let failed = 0;
let retried = 0;
let skipped = 0;
let consecutiveFailures = 0;
let latencySumMs = 0;
const inFlight = new Set<Promise<void>>();
const reportedErrors = new Set<string>();

let stopping = false;
let tickTimer: NodeJS.Timeout | undefined;
let reportTimer: NodeJS.Timeout | undefined;
let finished: Promise<void> | undefined;
/** When ticking started; undefined while connecting. */
let started: number | undefined;

onInterrupt(async () => {
  console.log('\nstopping…');
  await stop();
});

await prepare();

const intervalMs = 1000 / rate;
const origin = performance.now();
started = origin;
const deadline = durationS === undefined ? undefined : origin + durationS * 1000;
let tick = 0;
let reportNo = 0;
let committedAtLastReport = 0;

console.log(
  `simulating ${rate} transaction(s)/s on ${redacted(databaseUrl)}` +
    (durationS === undefined ? ' until Ctrl-C' : ` for ${durationS} s`),
);
scheduleTick();
scheduleReport();

/**
 * Tick n is due at start + n / rate: each timer aims at its own due time,
 * so timer lateness never accumulates into drift.
 */
function scheduleTick(): void {
  if (stopping) return;
  const due = origin + tick * intervalMs;
  if (deadline !== undefined && due >= deadline) {
    // No tick left before the deadline: stop at the deadline itself.
    tickTimer = setTimeout(
      () => void stop().then(() => process.exit(failed > 0 ? 1 : 0)),
      Math.max(0, deadline - performance.now()),
    );
    return;
  }
  tickTimer = setTimeout(
    () => {
      tick += 1;
      runTick();
      scheduleTick();
    },
    Math.max(0, due - performance.now()),
  );
}

function runTick(): void {
  if (inFlight.size >= MAX_IN_FLIGHT) {
    skipped += 1; // the database is not keeping up: drop the tick, do not queue it
    return;
  }
  const kind = pickWeighted(KINDS, (k) => WEIGHTS[k]);
  const t0 = performance.now();
  const running: Promise<void> = inTransaction(kind)
    .then((outcome) => {
      consecutiveFailures = 0;
      latencySumMs += performance.now() - t0;
      if (outcome.changed) {
        totals[kind] += 1;
        committed += 1;
        if (verbose) console.log(`  ${clockTime(new Date())} committed ${kind}: ${outcome.detail}`);
      } else {
        noop += 1;
      }
    })
    .catch((error: unknown) => {
      failed += 1;
      consecutiveFailures += 1;
      const message = `${kind}: ${describeError(error)}`;
      if (!reportedErrors.has(message)) {
        reportedErrors.add(message);
        console.error(`error: ${message}`);
      }
      if (consecutiveFailures >= 5 && !stopping) {
        void stop().then(() => fail(`5 transactions failed in a row, last: ${message}`));
      }
    })
    .finally(() => inFlight.delete(running));
  inFlight.add(running);
}

function scheduleReport(): void {
  reportNo += 1;
  const due = origin + reportNo * 1000;
  if (deadline !== undefined && due >= deadline) return; // stop() prints the last line
  reportTimer = setTimeout(
    () => {
      report(`${String(reportNo).padStart(4)} s`);
      scheduleReport();
    },
    Math.max(0, due - performance.now()),
  );
}

function report(label: string): void {
  const thisSecond = committed - committedAtLastReport;
  committedAtLastReport = committed;
  const done = committed + noop;
  console.log(
    `[${label}] +${thisSecond} tx  total ${committed}  ` +
      KINDS.map((k) => `${k} ${totals[k]}`).join('  ') +
      `  | no-op ${noop}  failed ${failed}  retried ${retried}  skipped ${skipped}` +
      `  avg ${done ? (latencySumMs / done).toFixed(1) : '-'} ms`,
  );
}

/** Stops ticking, lets running transactions finish, closes the pool. Idempotent. */
function stop(): Promise<void> {
  finished ??= (async () => {
    stopping = true;
    clearTimeout(tickTimer);
    clearTimeout(reportTimer);
    await Promise.allSettled([...inFlight]);
    if (started !== undefined) {
      const elapsedS = (performance.now() - started) / 1000;
      report(`${elapsedS.toFixed(1)} s`);
      console.log(
        `done: ${committed} transaction(s) committed in ${elapsedS.toFixed(1)} s ` +
          `(${(committed / elapsedS).toFixed(2)}/s, asked ${rate}/s)` +
          (failed ? `, ${failed} failed` : ''),
      );
    }
    await pool.end().catch(() => {});
  })();
  return finished;
}

/** Checks the database is reachable and migrated; loads the ids new rows refer to. */
async function prepare(): Promise<void> {
  try {
    practiceIds = (
      await pool.query<{ id: number }>('SELECT id FROM practices ORDER BY id')
    ).rows.map((r) => r.id);
    skillIds = (await pool.query<{ id: number }>('SELECT id FROM skills ORDER BY id')).rows.map(
      (r) => r.id,
    );
  } catch (error) {
    await pool.end().catch(() => {});
    const code = (error as { code?: string }).code;
    if (code === '42P01') {
      fail(
        `${redacted(databaseUrl)} has no consultator tables: start the API on it once, or run npm run db:migrate`,
      );
    }
    fail(`cannot use ${redacted(databaseUrl)}: ${describeError(error)}`);
  }
  if (practiceIds.length === 0 || skillIds.length < 3) {
    await pool.end().catch(() => {});
    fail(
      `${redacted(databaseUrl)} has no practices or fewer than 3 skills: seed it first (npm run db:seed)`,
    );
  }
}

// ---------------------------------------------------------------------------
// Small helpers

/**
 * The database of the embedded PostgreSQL `npm start` runs: user, password
 * and database are the API's fixed ones; the port, random by default, is the
 * fourth line of the lock file PostgreSQL keeps in its data folder while it
 * runs.
 */
function embeddedDatabaseUrl(): URL {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dataDir = path.resolve(root, process.env.EMBEDDED_PG_DIR ?? '.data/postgres');
  const lockFile = path.join(dataDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(lockFile, 'utf8').split('\n');
  } catch (error) {
    const code = (error as { code?: string }).code;
    return fail(
      code === 'ENOENT'
        ? `no --database-url, and no embedded PostgreSQL runs in ${dataDir}: start the API with npm start (without DATABASE_URL), or pass --database-url`
        : `no --database-url, and ${lockFile} cannot be read: ${describeError(error)}`,
    );
  }
  const port = Number(lines[3]);
  if (!Number.isInteger(port) || port <= 0) {
    return fail(`${lockFile} names no port: pass --database-url`);
  }
  return new URL(`postgres://postgres:postgres@127.0.0.1:${port}/consultator`);
}

function parseDatabaseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return usageError(USAGE, '--database-url: not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return usageError(USAGE, `--database-url: expected postgres://…, got ${url.protocol}//…`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!['localhost', '127.0.0.1', '::1', ''].includes(host)) {
    console.error(
      `warning: ${host} is not a local host; this script writes random data into the database it is given`,
    );
  }
  return url;
}

function parsePositive(
  name: string,
  value: string | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    return usageError(
      USAGE,
      `--${name}: expected a number above 0 and at most ${max}, got "${value}"`,
    );
  }
  return n;
}

function redacted(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}

function pickWeighted<T>(items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((sum, item) => sum + weight(item), 0);
  let r = Math.random() * total;
  for (const item of items) {
    r -= weight(item);
    if (r < 0) return item;
  }
  return items[items.length - 1] as T;
}

function roundTo10(n: number): number {
  return Math.max(10, Math.round(n / 10) * 10);
}

function slug(name: string): string {
  return (
    name
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'x'
  );
}

function clientName(): string {
  return faker.company.name();
}

function missionTitle(): string {
  return `${faker.helpers.arrayElement(MISSION_TOPICS)} – ${faker.helpers.arrayElement(MISSION_PHASES)}`;
}
