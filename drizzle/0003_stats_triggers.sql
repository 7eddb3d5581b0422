-- Live statistics and change notification (see src/db/queries/stats.ts and
-- src/changes/events.ts).
--
-- Every trigger here is FOR EACH STATEMENT with transition tables: one firing
-- per INSERT/UPDATE/DELETE/COPY statement whatever its row count, which keeps
-- bulk loads cheap. A firing appends grouped deltas to stats_deltas (INSERT
-- only: writers never update a shared row, so they never wait on each other's
-- row locks). Transition tables require one trigger per event, hence
-- _ins/_upd/_del; one function serves them all and branches on the table and
-- TG_OP. Statements that touch no row do nothing. TRUNCATE has no transition
-- table: a BEFORE TRUNCATE trigger appends the negated groups while the rows
-- are still there.
--
-- Delta kinds name the table (src/db/schema/stats.ts, StatsDeltaKind):
-- 1 consultants (practice_id, availability), 2 missions (status),
-- 3 consultant_skills (skill_id), 4 practices, 5 skills. A row whose group
-- columns are all NULL (count 0) is a "touch": the table changed without
-- moving an aggregate.
--
-- Wake-ups. NOTIFY makes the committing transaction take a cluster-wide lock
-- that it holds through its commit's WAL flush, so if every write notified,
-- concurrent writers would commit one at a time (bench/write-throughput.ts,
-- 8 writers on PostgreSQL 15: 0.27-0.42 of their throughput without
-- triggers, against 0.62-0.70 with what follows). So a transaction stays
-- silent while another fold is bound to happen anyway, and leaves a marker
-- for that fold to find:
--
-- * A fold that consumed deltas sets stats_state.refold_expected_until to
--   now + 2 s; a fold that found none clears it. A consuming fold notifies
--   the tables it folded, and whoever receives a notification must fold
--   (src/db/queries/stats.ts), so while the column is in the future a next
--   fold is bound to commit later than a writer that reads it.
-- * A writer first takes a shared transaction-level advisory lock
--   (7312004, kind) as its marker, then reads the column: in the future, it
--   stays silent; otherwise (idle API, first write of a burst, API down or
--   failing for 2 s) it notifies.
-- * After a fold that found nothing commits (the chain of folds ends there:
--   a consuming fold's own notifications guarantee another fold), the folder
--   reads the markers and then, with a later snapshot, the deltas left over,
--   and notifies their tables. A silent writer is therefore either still
--   marked when that check runs (woken again, and again, until it ends), or
--   committed before it and its deltas are seen. Old markers
--   (idle-in-transaction writers) are woken at most once a second, via
--   stats_state.woken_at.
--
-- Once a transaction has notified, notifying the other tables it writes is
-- free (the commit lock is taken once per transaction), so it does; once it
-- chose silence, it stays silent and marks each table it writes, leaving a
-- count-0 "touch" delta when a statement moved no aggregate (so the check
-- after a fold can see it committed). The choice lives in the
-- transaction-local setting consultator.changes_wakeup, which a rolled-back
-- subtransaction reverts along with its deltas, markers and notifications.
-- documents feed no statistic and are written rarely: they always notify
-- (no fold would announce them).
--
-- Names are schema-qualified (public, like the foreign keys of 0001) so the
-- functions work whatever search_path the writing session uses; a
-- `SET search_path` clause would do the same at ~10 µs per transaction.

-- stats_deltas churns (appended by writers, emptied by every fold): vacuum it
-- by dead-row count, not by a fraction of its (tiny) size, and without
-- throttling, since every fold scans its heap. No truncation: it needs an
-- ACCESS EXCLUSIVE lock that concurrent writers never leave free, and the
-- space is reused at once anyway. (The API also vacuums it: see afterFold in
-- src/db/queries/stats.ts.)
ALTER TABLE stats_deltas SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 5000,
  autovacuum_vacuum_cost_delay = 0,
  vacuum_truncate = false
);
--> statement-breakpoint
-- One function for the six tables (PL/pgSQL compiles and plans it per table,
-- so each only ever runs its own branch). Everything is inline and plain
-- expressions where possible: every PERFORM or nested call is a trip through
-- the executor, and with them this function cost twice as much CPU.
CREATE FUNCTION stats_table_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  kind integer;
  moved boolean := false;
  wake text;
BEGIN
  -- 1. This statement's grouped deltas; `moved`: some aggregate changed.
  IF TG_TABLE_NAME = 'consultants' THEN
    kind := 1;
    IF TG_OP = 'INSERT' THEN
      INSERT INTO public.stats_deltas (kind, practice_id, availability, count_delta, sum_delta)
      SELECT 1, practice_id, availability, count(*), sum(daily_rate)
      FROM new_rows GROUP BY practice_id, availability;
    ELSIF TG_OP = 'UPDATE' THEN
      -- Old groups out, new groups in; groups that net to zero (an update
      -- that touches no aggregated column) append nothing.
      INSERT INTO public.stats_deltas (kind, practice_id, availability, count_delta, sum_delta)
      SELECT 1, practice_id, availability, sum(n), sum(rate)
      FROM (
        SELECT practice_id, availability, 1 AS n, daily_rate AS rate FROM new_rows
        UNION ALL
        SELECT practice_id, availability, -1, -daily_rate FROM old_rows
      ) AS d
      GROUP BY practice_id, availability
      HAVING sum(n) <> 0 OR sum(rate) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO public.stats_deltas (kind, practice_id, availability, count_delta, sum_delta)
      SELECT 1, practice_id, availability, -count(*), -sum(daily_rate)
      FROM old_rows GROUP BY practice_id, availability;
    ELSE
      -- BEFORE TRUNCATE: the rows are still there.
      INSERT INTO public.stats_deltas (kind, practice_id, availability, count_delta, sum_delta)
      SELECT 1, practice_id, availability, -count(*), -sum(daily_rate)
      FROM public.consultants GROUP BY practice_id, availability;
    END IF;
    moved := FOUND;
  ELSIF TG_TABLE_NAME = 'missions' THEN
    kind := 2;
    IF TG_OP = 'INSERT' THEN
      INSERT INTO public.stats_deltas (kind, status, count_delta, sum_delta)
      SELECT 2, status, count(*), sum(daily_rate)
      FROM new_rows GROUP BY status;
    ELSIF TG_OP = 'UPDATE' THEN
      INSERT INTO public.stats_deltas (kind, status, count_delta, sum_delta)
      SELECT 2, status, sum(n), sum(rate)
      FROM (
        SELECT status, 1 AS n, daily_rate AS rate FROM new_rows
        UNION ALL
        SELECT status, -1, -daily_rate FROM old_rows
      ) AS d
      GROUP BY status
      HAVING sum(n) <> 0 OR sum(rate) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO public.stats_deltas (kind, status, count_delta, sum_delta)
      SELECT 2, status, -count(*), -sum(daily_rate)
      FROM old_rows GROUP BY status;
    ELSE
      INSERT INTO public.stats_deltas (kind, status, count_delta, sum_delta)
      SELECT 2, status, -count(*), -sum(daily_rate)
      FROM public.missions GROUP BY status;
    END IF;
    moved := FOUND;
  ELSIF TG_TABLE_NAME = 'consultant_skills' THEN
    kind := 3;
    IF TG_OP = 'INSERT' THEN
      INSERT INTO public.stats_deltas (kind, skill_id, count_delta)
      SELECT 3, skill_id, count(*) FROM new_rows GROUP BY skill_id;
    ELSIF TG_OP = 'UPDATE' THEN
      INSERT INTO public.stats_deltas (kind, skill_id, count_delta)
      SELECT 3, skill_id, sum(n)
      FROM (
        SELECT skill_id, 1 AS n FROM new_rows
        UNION ALL
        SELECT skill_id, -1 FROM old_rows
      ) AS d
      GROUP BY skill_id
      HAVING sum(n) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO public.stats_deltas (kind, skill_id, count_delta)
      SELECT 3, skill_id, -count(*) FROM old_rows GROUP BY skill_id;
    ELSE
      INSERT INTO public.stats_deltas (kind, skill_id, count_delta)
      SELECT 3, skill_id, -count(*) FROM public.consultant_skills GROUP BY skill_id;
    END IF;
    moved := FOUND;
  ELSE
    -- practices 4, skills 5, documents 0 (no statistic).
    kind := CASE TG_TABLE_NAME WHEN 'practices' THEN 4 WHEN 'skills' THEN 5 ELSE 0 END;
  END IF;

  -- 2. Nothing moved: did the statement change any row at all? (A TRUNCATE
  -- that found no row in a stats table did not; elsewhere, assume it did.)
  IF NOT moved THEN
    IF TG_OP = 'DELETE' THEN
      PERFORM 1 FROM old_rows LIMIT 1;
      IF NOT FOUND THEN RETURN NULL; END IF;
    ELSIF TG_OP <> 'TRUNCATE' THEN
      PERFORM 1 FROM new_rows LIMIT 1;
      IF NOT FOUND THEN RETURN NULL; END IF;
    ELSIF kind BETWEEN 1 AND 3 THEN
      RETURN NULL;
    END IF;
  END IF;

  -- 3. Notify, or stay silent behind a marker (see the header).
  wake := current_setting('consultator.changes_wakeup', true);
  IF kind = 0 THEN
    -- documents always notify; the rest of the transaction may then too.
    IF wake IS DISTINCT FROM 'mark' THEN
      wake := set_config('consultator.changes_wakeup', 'notify', true);
    END IF;
    PERFORM pg_notify('consultator_changes', TG_TABLE_NAME);
    RETURN NULL;
  END IF;
  IF wake IS DISTINCT FROM 'notify' THEN
    -- The marker, before the look at stats_state: a fold that commits in
    -- between cannot miss this transaction. Nobody takes it exclusively, so
    -- the try always succeeds; it is a plain expression, unlike PERFORM.
    IF NOT pg_try_advisory_xact_lock_shared(7312004, kind) THEN
      PERFORM pg_advisory_xact_lock_shared(7312004, kind);
    END IF;
    IF wake IS DISTINCT FROM 'mark' THEN
      wake := CASE WHEN EXISTS (
          SELECT 1 FROM public.stats_state
          WHERE id = 1 AND refold_expected_until > clock_timestamp())
        THEN 'mark' ELSE 'notify' END;
      wake := set_config('consultator.changes_wakeup', wake, true);
    END IF;
  END IF;
  IF wake = 'notify' THEN
    PERFORM pg_notify('consultator_changes', TG_TABLE_NAME);
  END IF;

  -- 4. practices and skills: names appear in the snapshot, so a change
  -- appends a delta of the table's kind, which makes the next fold bump the
  -- version. A silent statement that moved nothing leaves a touch delta for
  -- the post-fold check to find.
  IF kind >= 4 OR (NOT moved AND wake = 'mark') THEN
    INSERT INTO public.stats_deltas (kind, count_delta) VALUES (kind, 0);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER consultants_changes_ins AFTER INSERT ON consultants
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultants_changes_upd AFTER UPDATE ON consultants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultants_changes_del AFTER DELETE ON consultants
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultants_changes_trunc BEFORE TRUNCATE ON consultants
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER missions_changes_ins AFTER INSERT ON missions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER missions_changes_upd AFTER UPDATE ON missions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER missions_changes_del AFTER DELETE ON missions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER missions_changes_trunc BEFORE TRUNCATE ON missions
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultant_skills_changes_ins AFTER INSERT ON consultant_skills
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultant_skills_changes_upd AFTER UPDATE ON consultant_skills
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultant_skills_changes_del AFTER DELETE ON consultant_skills
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER consultant_skills_changes_trunc BEFORE TRUNCATE ON consultant_skills
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER practices_changes_ins AFTER INSERT ON practices
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER practices_changes_upd AFTER UPDATE ON practices
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER practices_changes_del AFTER DELETE ON practices
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER practices_changes_trunc AFTER TRUNCATE ON practices
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER skills_changes_ins AFTER INSERT ON skills
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER skills_changes_upd AFTER UPDATE ON skills
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER skills_changes_del AFTER DELETE ON skills
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER skills_changes_trunc AFTER TRUNCATE ON skills
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER documents_changes_ins AFTER INSERT ON documents
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER documents_changes_upd AFTER UPDATE ON documents
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER documents_changes_del AFTER DELETE ON documents
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
CREATE TRIGGER documents_changes_trunc AFTER TRUNCATE ON documents
  FOR EACH STATEMENT EXECUTE FUNCTION stats_table_changed();
--> statement-breakpoint
-- Backfill after the triggers exist: CREATE TRIGGER holds SHARE ROW EXCLUSIVE
-- on each table until this migration commits, so no write can slip between
-- the backfill's snapshot and the triggers taking over.
INSERT INTO stats_consultant_groups (practice_id, availability, consultants, daily_rate_sum)
SELECT practice_id, availability, count(*), sum(daily_rate)
FROM consultants GROUP BY practice_id, availability;
--> statement-breakpoint
INSERT INTO stats_mission_groups (status, missions, daily_rate_sum)
SELECT status, count(*), sum(daily_rate) FROM missions GROUP BY status;
--> statement-breakpoint
INSERT INTO stats_skill_groups (skill_id, consultants)
SELECT skill_id, count(*) FROM consultant_skills GROUP BY skill_id;
--> statement-breakpoint
INSERT INTO stats_state (id, version, folded_at, rebuilt_at) VALUES (1, 1, now(), now());
