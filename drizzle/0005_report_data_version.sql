-- The data version of cached reports (src/db/schema/reports.ts,
-- src/db/queries/reports.ts): one sequence, bumped once per statement that
-- writes a table the reports read.
--
-- A sequence rather than a counter row: nextval never blocks and is never
-- rolled back, so concurrent writers do not queue on a shared row lock (the
-- reason 0003 only appends deltas). A rolled-back write still bumps it,
-- which costs one needless recompute, never a stale hit. One trigger per
-- event, FOR EACH STATEMENT: a COPY of ten million missions bumps it once.
CREATE SEQUENCE report_data_version AS bigint;
--> statement-breakpoint
CREATE FUNCTION report_data_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('public.report_data_version');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER missions_report_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON missions
FOR EACH STATEMENT EXECUTE FUNCTION report_data_changed();
--> statement-breakpoint
CREATE TRIGGER consultants_report_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON consultants
FOR EACH STATEMENT EXECUTE FUNCTION report_data_changed();
--> statement-breakpoint
CREATE TRIGGER consultant_skills_report_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON consultant_skills
FOR EACH STATEMENT EXECUTE FUNCTION report_data_changed();
--> statement-breakpoint
CREATE TRIGGER practices_report_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON practices
FOR EACH STATEMENT EXECUTE FUNCTION report_data_changed();
--> statement-breakpoint
CREATE TRIGGER skills_report_version
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON skills
FOR EACH STATEMENT EXECUTE FUNCTION report_data_changed();
