-- Delta kinds by table, the TS side being StatsDeltaKind (src/db/schema/stats.ts);
-- test/stats-db.test.ts checks both, and what the triggers write, against each other.
INSERT INTO stats_delta_kinds (kind, table_name) VALUES
  (1, 'consultants'), (2, 'missions'), (3, 'consultant_skills'), (4, 'practices'), (5, 'skills');
--> statement-breakpoint
-- The fold as one statement (see src/stats/fold.ts and docs/live-stats.md):
-- lock, fold, version, snapshot and the wake-up window in one round trip.
--
-- Base groups: one definition each, used by the from-scratch snapshot, the
-- rebuild and the verification.
CREATE VIEW stats_base_consultant_groups AS
SELECT practice_id, availability, count(*)::bigint AS consultants,
  coalesce(sum(daily_rate), 0)::bigint AS daily_rate_sum
FROM consultants GROUP BY practice_id, availability;
--> statement-breakpoint
CREATE VIEW stats_base_mission_groups AS
SELECT status, count(*)::bigint AS missions, coalesce(sum(daily_rate), 0)::bigint AS daily_rate_sum
FROM missions GROUP BY status;
--> statement-breakpoint
CREATE VIEW stats_base_skill_groups AS
SELECT skill_id, count(*)::bigint AS consultants FROM consultant_skills GROUP BY skill_id;
--> statement-breakpoint
-- The rows a dashboard snapshot is assembled from (src/stats/snapshot.ts),
-- from the summary tables or, with p_from_base, from the base tables: one
-- query for both, so they cannot drift apart. Needs a consistent view: the
-- fold lock (summary) or one REPEATABLE READ snapshot (base).
CREATE FUNCTION stats_snapshot_rows(p_top_skills integer, p_from_base boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
WITH consultant_groups AS (
  SELECT practice_id, availability, consultants, daily_rate_sum
  FROM public.stats_consultant_groups WHERE NOT p_from_base
  UNION ALL
  SELECT practice_id, availability, consultants, daily_rate_sum
  FROM public.stats_base_consultant_groups WHERE p_from_base
),
mission_groups AS (
  SELECT status, missions, daily_rate_sum FROM public.stats_mission_groups WHERE NOT p_from_base
  UNION ALL
  SELECT status, missions, daily_rate_sum FROM public.stats_base_mission_groups WHERE p_from_base
),
skill_groups AS (
  SELECT skill_id, consultants FROM public.stats_skill_groups WHERE NOT p_from_base
  UNION ALL
  SELECT skill_id, consultants FROM public.stats_base_skill_groups WHERE p_from_base
)
SELECT jsonb_build_object(
  'practices', (SELECT coalesce(jsonb_agg(p ORDER BY p.name, p.practice_id), '[]') FROM (
    SELECT p.id AS practice_id, p.name,
      coalesce(sum(g.consultants) FILTER (WHERE g.availability = 'AVAILABLE'), 0) AS available,
      coalesce(sum(g.consultants) FILTER (WHERE g.availability = 'ON_MISSION'), 0) AS on_mission,
      coalesce(sum(g.consultants) FILTER (WHERE g.availability = 'UNAVAILABLE'), 0) AS unavailable,
      coalesce(sum(g.daily_rate_sum), 0) AS daily_rate_sum
    FROM public.practices p
    LEFT JOIN consultant_groups g ON g.practice_id = p.id
    GROUP BY p.id, p.name) p),
  'missions', (SELECT coalesce(jsonb_agg(m), '[]') FROM (
    SELECT status, missions, daily_rate_sum FROM mission_groups) m),
  'topSkills', (SELECT coalesce(jsonb_agg(s ORDER BY s.consultants DESC, s.name, s.skill_id), '[]') FROM (
    SELECT s.id AS skill_id, s.name, s.category, g.consultants
    FROM skill_groups g JOIN public.skills s ON s.id = g.skill_id
    WHERE g.consultants > 0
    ORDER BY g.consultants DESC, s.name, s.id
    LIMIT p_top_skills) s))
$$;
--> statement-breakpoint
-- One fold: applies every committed delta to the summary, bumps the version
-- when the snapshot changed, keeps the published snapshot current, and runs
-- the folder's side of the wake-up window. Called as one statement outside
-- any explicit transaction (src/stats/fold.ts): each statement below takes a
-- fresh snapshot after the lock is granted, so the fold sees every delta
-- committed before it started, including those another instance was folding.
--
-- p_top_skills: how many top skills the snapshot lists; NULL folds without
--   reading a snapshot (the published one is then dropped if it went stale).
-- p_instance: the calling API instance; NULL for one-off callers (tasks,
--   tests, the bench), which neither open nor keep a window.
-- p_keep_window: the caller is in a burst and promises to fold again within
--   the window: writers may stay silent until then.
CREATE FUNCTION stats_fold(p_top_skills integer, p_instance text, p_keep_window boolean)
RETURNS TABLE (
  deltas bigint, changed boolean, version bigint, tables text[], dead_deltas bigint,
  window_open boolean, must_check boolean, snapshot jsonb
) LANGUAGE plpgsql AS $$
DECLARE
  v_kinds smallint[];
  v_changes bigint;
  v_state public.stats_state%ROWTYPE;
  v_now timestamptz;
  v_dirty boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(7312004212);
  -- The DELETE…RETURNING feeds the upserts, so the deltas consumed are
  -- exactly the ones applied. Touch rows (NULL group columns) only count as
  -- a change for practices and skills, whose names the snapshot shows.
  -- Groups are upserted in key order; groups that drop to zero stay (reads
  -- skip them). sum(bigint) is numeric, hence the casts.
  WITH folded AS (
    DELETE FROM public.stats_deltas
    RETURNING kind, practice_id, availability, status, skill_id, count_delta, sum_delta
  ),
  consultant_groups AS (
    INSERT INTO public.stats_consultant_groups AS g (practice_id, availability, consultants, daily_rate_sum)
    SELECT f.practice_id, f.availability, sum(f.count_delta)::bigint, sum(f.sum_delta)::bigint
    FROM folded f WHERE f.kind = 1 AND f.practice_id IS NOT NULL
    GROUP BY f.practice_id, f.availability
    HAVING sum(f.count_delta) <> 0 OR sum(f.sum_delta) <> 0
    ORDER BY f.practice_id, f.availability
    ON CONFLICT (practice_id, availability) DO UPDATE
    SET consultants = g.consultants + excluded.consultants,
        daily_rate_sum = g.daily_rate_sum + excluded.daily_rate_sum
    RETURNING 1
  ),
  mission_groups AS (
    INSERT INTO public.stats_mission_groups AS g (status, missions, daily_rate_sum)
    SELECT f.status, sum(f.count_delta)::bigint, sum(f.sum_delta)::bigint
    FROM folded f WHERE f.kind = 2 AND f.status IS NOT NULL
    GROUP BY f.status
    HAVING sum(f.count_delta) <> 0 OR sum(f.sum_delta) <> 0
    ORDER BY f.status
    ON CONFLICT (status) DO UPDATE
    SET missions = g.missions + excluded.missions,
        daily_rate_sum = g.daily_rate_sum + excluded.daily_rate_sum
    RETURNING 1
  ),
  skill_groups AS (
    INSERT INTO public.stats_skill_groups AS g (skill_id, consultants)
    SELECT f.skill_id, sum(f.count_delta)::bigint
    FROM folded f WHERE f.kind = 3 AND f.skill_id IS NOT NULL
    GROUP BY f.skill_id
    HAVING sum(f.count_delta) <> 0
    ORDER BY f.skill_id
    ON CONFLICT (skill_id) DO UPDATE
    SET consultants = g.consultants + excluded.consultants
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM folded),
    (SELECT count(*) FROM consultant_groups) + (SELECT count(*) FROM mission_groups)
      + (SELECT count(*) FROM skill_groups) + (SELECT count(*) FROM folded f WHERE f.kind IN (4, 5)),
    (SELECT coalesce(array_agg(DISTINCT f.kind ORDER BY f.kind), '{}') FROM folded f)
  INTO deltas, v_changes, v_kinds;

  SELECT * INTO v_state FROM public.stats_state s WHERE s.id = 1 FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'stats_state has no row: run the migrations';
  END IF;
  v_now := clock_timestamp();
  changed := v_changes > 0;
  version := v_state.version + CASE WHEN changed THEN 1 ELSE 0 END;
  tables := ARRAY(SELECT k.table_name FROM public.stats_delta_kinds k
    WHERE k.kind = ANY (v_kinds) ORDER BY k.table_name);

  -- The window (docs/live-stats.md, "Wake-ups"): open or extend it when a
  -- burst goes on, close it when the burst ended (its owner's fold found
  -- nothing, or its owner was told to stop) or when it expired (its owner is
  -- gone). Whoever closes it must then run stats_pending_writers(): writers
  -- may have stayed silent until that moment.
  must_check := false;
  v_dirty := deltas > 0;
  IF p_instance IS NOT NULL AND p_keep_window AND deltas > 0 THEN
    v_state.refold_expected_until := v_now + interval '2 seconds';
    v_state.window_owner := p_instance;
    v_dirty := true;
  ELSIF v_state.refold_expected_until IS NOT NULL
      AND (v_state.window_owner IS NOT DISTINCT FROM p_instance
        OR v_state.refold_expected_until <= v_now) THEN
    v_state.refold_expected_until := NULL;
    v_state.window_owner := NULL;
    must_check := true;
    v_dirty := true;
  END IF;
  window_open := v_state.refold_expected_until IS NOT NULL AND v_state.window_owner = p_instance;

  snapshot := v_state.snapshot;
  IF changed OR (snapshot IS NOT NULL AND (snapshot->>'version')::bigint <> version) THEN
    snapshot := NULL;
    v_dirty := true;
  END IF;
  IF p_top_skills IS NOT NULL AND (snapshot IS NULL OR (snapshot->>'topSkillsLimit')::int < p_top_skills) THEN
    snapshot := public.stats_snapshot_rows(p_top_skills, false)
      || jsonb_build_object('version', version::text, 'computedAt', v_now, 'topSkillsLimit', p_top_skills);
    v_dirty := true;
  END IF;

  -- Nothing folded and nothing to record: no write (a call that only reads
  -- the published snapshot costs no WAL).
  IF v_dirty THEN
    UPDATE public.stats_state s SET
      version = stats_fold.version,
      folded_at = CASE WHEN deltas > 0 THEN v_now ELSE s.folded_at END,
      refold_expected_until = v_state.refold_expected_until,
      window_owner = v_state.window_owner,
      snapshot = stats_fold.snapshot
    WHERE s.id = 1;
  END IF;

  -- Every instance learns what was folded, whoever folded it: the tables
  -- (for their caches; silent writers announced nothing), the version whose
  -- snapshot is now published (so they read it instead of folding), and
  -- whether a window is open (so they can take over if its owner dies).
  IF deltas > 0 THEN
    PERFORM pg_notify('consultator_changes', 'folded:' || version || ':' || array_to_string(tables, ',')
      || CASE WHEN v_state.refold_expected_until IS NOT NULL THEN ':window' ELSE '' END);
  END IF;
  dead_deltas := pg_stat_get_dead_tuples('public.stats_deltas'::regclass);
  RETURN NEXT;
END
$$;
--> statement-breakpoint
-- After a window closed: writers that stayed silent while it was open and
-- have not been folded yet. Markers are read first and the deltas second,
-- in two snapshots: a writer no longer marked has ended, so the second
-- statement sees its deltas (docs/live-stats.md, "Wake-ups"). A marker is
-- young while its transaction is under a second old (likely to commit any
-- moment); the activity function hides other roles' xact_start unless the
-- role may read all statistics, and unknown ages count as young.
--
-- p_wake: notify the tables found, for callers that will not fold again
-- themselves (old markers at most once a second across all instances, via
-- stats_state.woken_at: an idle-in-transaction writer must not make every
-- instance fold 20 times a second until it ends).
CREATE FUNCTION stats_pending_writers(p_wake boolean)
RETURNS TABLE (young text[], old text[], leftover text[]) LANGUAGE plpgsql AS $$
DECLARE
  v_young smallint[];
  v_old smallint[];
  v_leftover smallint[];
BEGIN
  SELECT coalesce(array_agg(m.kind) FILTER (WHERE m.young), '{}'),
    coalesce(array_agg(m.kind) FILTER (WHERE NOT m.young), '{}')
  INTO v_young, v_old
  FROM (
    SELECT l.objid::int::smallint AS kind,
      bool_or(a.xact_start IS NULL OR a.xact_start > clock_timestamp() - interval '1 second') AS young
    FROM pg_locks l
    LEFT JOIN LATERAL pg_stat_get_activity(l.pid) a ON true
    WHERE l.locktype = 'advisory' AND l.classid = 7312004 AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    GROUP BY l.objid) m;
  SELECT coalesce(array_agg(DISTINCT d.kind), '{}') INTO v_leftover FROM public.stats_deltas d;

  young := ARRAY(SELECT k.table_name FROM public.stats_delta_kinds k
    WHERE k.kind = ANY (v_young) ORDER BY k.table_name);
  old := ARRAY(SELECT k.table_name FROM public.stats_delta_kinds k
    WHERE k.kind = ANY (v_old) AND NOT k.kind = ANY (v_young) ORDER BY k.table_name);
  leftover := ARRAY(SELECT k.table_name FROM public.stats_delta_kinds k
    WHERE k.kind = ANY (v_leftover) ORDER BY k.table_name);

  IF p_wake THEN
    IF cardinality(old) > 0 THEN
      UPDATE public.stats_state SET woken_at = clock_timestamp()
      WHERE id = 1 AND woken_at < clock_timestamp() - interval '1 second';
      IF NOT FOUND THEN
        old := '{}';
      END IF;
    END IF;
    PERFORM pg_notify('consultator_changes', t.name)
    FROM (SELECT unnest(young || old || leftover) AS name) t
    GROUP BY t.name ORDER BY t.name;
  END IF;
  RETURN NEXT;
END
$$;
