import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { availabilityEnum, missionStatusEnum } from './staffing.js';

/*
 * Live dashboard statistics, maintained incrementally.
 *
 * Statement-level triggers on the base tables (see the `stats_triggers`
 * migration) append grouped deltas to `stats_deltas`; they never UPDATE a
 * shared row, so concurrent writers do not queue on one row lock until
 * commit. The API folds the deltas into the `stats_*_groups` summary tables
 * (`stats_fold`, drizzle/0008_stats_fold_function.sql, called from
 * src/stats/fold.ts) under an advisory lock, so only folders ever update
 * summary rows, one at a time.
 */

/**
 * Values of `stats_deltas.kind`: the table a delta comes from. The one TS
 * definition; the database has the same mapping in `stats_delta_kinds` and in
 * the trigger function (drizzle/0003_stats_triggers.sql), and
 * test/stats-db.test.ts checks all three against each other. A row whose
 * group columns are all NULL (count 0) is a "touch": the table changed
 * without moving an aggregate (practices and skills only ever touch, which
 * still bumps the version since the snapshot shows their names).
 */
export const StatsDeltaKind = {
  /** Group (practice_id, availability): count and daily_rate sum. */
  consultants: 1,
  /** Group (status): count and daily_rate sum. */
  missions: 2,
  /** Group (skill_id): count. */
  consultant_skills: 3,
  practices: 4,
  skills: 5,
} as const;

/**
 * The same mapping in the database, for the SQL that names tables (fold
 * notifications, the wake-up check). Filled by the stats_fold_function
 * migration; test/stats-db.test.ts checks it, and what the triggers write,
 * against {@link StatsDeltaKind}.
 */
export const statsDeltaKinds = pgTable('stats_delta_kinds', {
  kind: smallint('kind').primaryKey(),
  tableName: text('table_name').notNull().unique(),
});

/** Append-only; rows live from the writer's commit until the next fold deletes them. */
export const statsDeltas = pgTable('stats_deltas', {
  id: bigserial('id', { mode: 'bigint' }).primaryKey(),
  kind: smallint('kind').notNull(),
  practiceId: integer('practice_id'),
  availability: availabilityEnum('availability'),
  status: missionStatusEnum('status'),
  skillId: integer('skill_id'),
  countDelta: bigint('count_delta', { mode: 'bigint' }).notNull(),
  sumDelta: bigint('sum_delta', { mode: 'bigint' }).notNull().default(sql`0`),
  at: timestamp('at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

// No foreign keys on the summary tables: a practice or skill may be deleted
// while its (zero) summary row still exists, and reads join the reference
// tables anyway.

export const statsConsultantGroups = pgTable(
  'stats_consultant_groups',
  {
    practiceId: integer('practice_id').notNull(),
    availability: availabilityEnum('availability').notNull(),
    consultants: bigint('consultants', { mode: 'bigint' }).notNull(),
    dailyRateSum: bigint('daily_rate_sum', { mode: 'bigint' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.practiceId, t.availability] })],
);

export const statsMissionGroups = pgTable('stats_mission_groups', {
  status: missionStatusEnum('status').primaryKey(),
  missions: bigint('missions', { mode: 'bigint' }).notNull(),
  dailyRateSum: bigint('daily_rate_sum', { mode: 'bigint' }).notNull(),
});

export const statsSkillGroups = pgTable('stats_skill_groups', {
  skillId: integer('skill_id').primaryKey(),
  consultants: bigint('consultants', { mode: 'bigint' }).notNull(),
});

/** Exactly one row (id = 1). */
export const statsState = pgTable(
  'stats_state',
  {
    id: smallint('id').primaryKey().default(1),
    /**
     * Bumped by one by every fold that changed the snapshot (an aggregate, or
     * a practice or skill row), and by every rebuild. Shared by all API
     * instances on the database.
     */
    version: bigint('version', { mode: 'bigint' }).notNull(),
    /** Last fold (or rebuild) that consumed deltas. */
    foldedAt: timestamp('folded_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    /**
     * The wake-up window (docs/live-stats.md, "Wake-ups"): while it is in the
     * future, the instance named in `window_owner` has promised another fold,
     * so writers may skip their NOTIFY. Opened by a fold in a burst, closed by
     * its owner's fold that finds nothing, or by any fold once expired.
     */
    refoldExpectedUntil: timestamp('refold_expected_until', { withTimezone: true, precision: 3 }),
    /** Last wake-up sent on behalf of long-running silent writers (throttles them). */
    wokenAt: timestamp('woken_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    rebuiltAt: timestamp('rebuilt_at', { withTimezone: true, precision: 3 }),
    /**
     * The API instance whose fold opened the current window (refold_expected_until):
     * it promised the next fold. Other instances leave the window alone until it expires.
     */
    windowOwner: text('window_owner'),
    /**
     * The rows of the snapshot at `version`, as the last fold read them (see
     * stats_fold): instances that did not fold read this instead of the
     * summary tables. NULL when stale (a fold that did not read it, a rebuild).
     */
    snapshot: jsonb('snapshot'),
  },
  (t) => [check('stats_state_single_row', sql`${t.id} = 1`)],
);
