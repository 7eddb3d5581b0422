import type { ChangeTable } from '../db/change-contract.js';
import { num, type StatsClient, withConnection } from './connection.js';
import {
  type DashboardStatsOptions,
  type DashboardStatsSnapshot,
  fromPublished,
  type PublishedSnapshot,
  topSkillsLimit,
} from './snapshot.js';

/**
 * Folding: moving the deltas the triggers append (`stats_deltas`) into the
 * summary tables, and the wake-up window that lets writers skip their NOTIFY
 * meanwhile. The SQL lives in drizzle/0008_stats_fold_function.sql
 * (`stats_fold`, `stats_pending_writers`); the protocol is explained once,
 * in docs/live-stats.md ("Wake-ups").
 *
 * Invariant, true in every MVCC snapshot: summary tables + visible rows of
 * stats_deltas = aggregates of the base tables. Writers add base rows and
 * their deltas in one transaction; a fold moves deltas into the summary in
 * one transaction. So nothing here ever needs to block a writer.
 *
 * A fold is one statement, `SELECT … FROM stats_fold(…)`, sent outside any
 * transaction: lock, fold, version, window and the snapshot rows in one
 * round trip. Only the fold that closes a window adds a second statement
 * (the look for writers that stayed silent), and a VACUUM of stats_deltas
 * follows now and then.
 */

/**
 * Serializes folds and rebuilds across every API instance on the database
 * (the key `stats_fold` locks). It sits next to the migration lock
 * (7_312_004_211) to be easy to recognise in pg_locks.
 */
export const STATS_LOCK_KEY = 7_312_004_212;

/** How long writers may stay silent after a fold that keeps the window open (as in `stats_fold`). */
export const REFOLD_WINDOW_MS = 2_000;

export interface FoldOptions extends DashboardStatsOptions {
  /**
   * Read the snapshot too (the default). `false` folds only; the published
   * snapshot is then dropped if the fold made it stale.
   */
  snapshot?: boolean;
  /**
   * The calling API instance, for the wake-up window: a fold with an
   * instance and `keepWindow` that consumed deltas opens (or extends) the
   * window, and that instance must fold again before it ends. One-off
   * callers (tasks, tests, the bench) leave it out: they never open one.
   */
  instance?: string;
  /** The caller is in a burst of changes and will fold again within the window. */
  keepWindow?: boolean;
  /**
   * Look for silent writers after the fold even if it did not close a
   * window: for the follow-up of a fold that found some still running.
   */
  checkPending?: boolean;
  /**
   * Notify the tables of silent writers found (for callers that will not
   * fold again themselves, so that some instance does). Default: true
   * without `instance`, false with one (the instance follows up itself).
   */
  wake?: boolean;
}

/** Writers that stayed silent and were not folded yet, by table. */
export interface PendingWriters {
  /** Still running, started under a second ago: likely to commit any moment. */
  young: ChangeTable[];
  /** Still running for longer (idle in transaction?). */
  old: ChangeTable[];
  /** Committed after the fold's snapshot: their deltas wait for the next fold. */
  leftover: ChangeTable[];
}

export interface FoldOutcome {
  /** Delta rows consumed. */
  deltas: number;
  /** Whether the snapshot changed, i.e. the version was bumped. */
  changed: boolean;
  /** The version after the fold. */
  version: string;
  /**
   * Tables whose deltas were folded. The fold announced them, with the new
   * version, to every instance (`folded:` notification, src/db/change-contract.ts).
   */
  tables: ChangeTable[];
  /** This caller owns an open window: it must fold again before it ends. */
  windowOpen: boolean;
  /** Set when the fold looked for silent writers (it closed a window, or was asked to). */
  pending: PendingWriters | null;
  /** The snapshot at `version`; absent with `snapshot: false`. */
  snapshot?: DashboardStatsSnapshot;
}

/** Dead delta rows that make a fold VACUUM stats_deltas (about 1.5 MB of heap). */
const DELTAS_VACUUM_THRESHOLD = 20_000;

interface FoldRow {
  deltas: string;
  changed: boolean;
  version: string;
  tables: ChangeTable[];
  dead_deltas: string;
  window_open: boolean;
  must_check: boolean;
  snapshot: PublishedSnapshot | null;
}

/**
 * Folds every committed delta into the summary tables, bumps
 * `stats_state.version` by one if any aggregate (or a practice/skill row)
 * changed, and returns the snapshot at that version: one statement.
 *
 * Every fold that consumed deltas announces them to every instance with one
 * `folded:<version>:<tables>` notification; instances that did not fold read
 * the snapshot it published (`stats_state.snapshot`) instead of folding.
 *
 * Concurrency: `stats_fold` holds a transaction-level advisory lock, so folds
 * from several API instances run one after the other and each delta is
 * applied exactly once; a fold that waited sees everything committed before
 * it started (each statement of the function takes its own snapshot after
 * the lock). Folders never lock base tables and writers never touch summary
 * rows, so there is no lock cycle with writers.
 *
 * Why the version is a counter and not the largest folded delta id: ids come
 * from a sequence at insert time, not at commit, so a fold can consume a
 * delta whose id is lower than one an earlier fold consumed.
 *
 * Only meaningful while the change triggers are installed and enabled
 * (`checkChangeTriggers`); without them use `computeDashboardStatsFromScratch`.
 */
export async function foldStats(
  client: StatsClient,
  options: FoldOptions = {},
): Promise<FoldOutcome> {
  const topSkills = options.snapshot === false ? null : topSkillsLimit(options);
  const instance = options.instance ?? null;
  const wake = options.wake ?? instance === null;
  return withConnection(client, async (conn) => {
    const result = await conn.query<FoldRow>(
      `SELECT deltas, changed, version::text AS version, tables, dead_deltas, window_open,
         must_check, snapshot
       FROM stats_fold($1, $2, $3)`,
      [topSkills, instance, options.keepWindow ?? false],
    );
    const row = result.rows[0];
    if (!row) throw new Error('stats_fold returned nothing');
    let pending: PendingWriters | null = null;
    if (row.must_check || options.checkPending) {
      const found = await conn.query<PendingWriters>(
        'SELECT young, old, leftover FROM stats_pending_writers($1)',
        [wake],
      );
      pending = found.rows[0] ?? { young: [], old: [], leftover: [] };
    }
    // Every fold scans the whole heap of stats_deltas and leaves its rows
    // dead, so without VACUUM its cost would grow with the number of writes
    // ever made. Autovacuum may be off or busy, so once enough dead rows
    // have piled up (per the statistics counters, which may lag) the folder
    // vacuums the table itself. SKIP_LOCKED: another instance is at it.
    // TRUNCATE false: giving pages back needs an ACCESS EXCLUSIVE lock that
    // concurrent writers never leave free. A role that does not own the
    // table gets a warning and depends on autovacuum.
    if (num(row.dead_deltas) >= DELTAS_VACUUM_THRESHOLD) {
      await conn.query('VACUUM (SKIP_LOCKED, TRUNCATE false) stats_deltas');
    }
    const outcome: FoldOutcome = {
      deltas: num(row.deltas),
      changed: row.changed,
      version: row.version,
      tables: row.tables,
      windowOpen: row.window_open,
      pending,
    };
    if (topSkills !== null) {
      const snapshot = row.snapshot && fromPublished(row.snapshot, topSkills);
      if (!snapshot) throw new Error('stats_fold returned no snapshot');
      outcome.snapshot = snapshot;
    }
    return outcome;
  });
}

export interface FoldResult {
  /** Delta rows consumed. */
  deltas: number;
  /** Whether the snapshot changed, i.e. the version was bumped. */
  changed: boolean;
  /** The version after the fold. */
  version: string;
  /** Tables whose deltas were folded (announced with a `folded:` notification). */
  tables: ChangeTable[];
  /**
   * Tables notified for writers that stayed silent and may still be running
   * (or committed since), when this fold closed an expired window: another
   * fold will follow, since every instance receives the notification.
   */
  woken: ChangeTable[];
}

/**
 * A one-off fold without reading the snapshot (tasks, tests, scripts): see
 * {@link foldStats}. It never opens a window; it closes one that expired
 * (its owner is gone) and then wakes the writers that stayed silent.
 */
export async function foldStatsDeltas(client: StatsClient): Promise<FoldResult> {
  const outcome = await foldStats(client, { snapshot: false });
  const woken = outcome.pending
    ? [...new Set([...outcome.pending.young, ...outcome.pending.old, ...outcome.pending.leftover])]
    : [];
  return {
    deltas: outcome.deltas,
    changed: outcome.changed,
    version: outcome.version,
    tables: outcome.tables,
    woken: woken.sort(),
  };
}

/**
 * The dashboard snapshot, from the summary tables: folds pending deltas
 * first, then reads, in one statement under the fold lock (so the version
 * and the numbers belong together even while another instance folds).
 *
 * Cost does not depend on table sizes: it reads the deltas committed since
 * the last fold, the summary tables (at most practices × 3 + 4 + skills
 * rows), practices and skills. Call it once per (coalesced) change, not per
 * subscriber.
 */
export async function readDashboardStats(
  client: StatsClient,
  options: DashboardStatsOptions = {},
): Promise<DashboardStatsSnapshot> {
  const outcome = await foldStats(client, options);
  if (!outcome.snapshot) throw new Error('stats_fold returned no snapshot');
  return outcome.snapshot;
}
