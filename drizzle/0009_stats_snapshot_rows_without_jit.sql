-- stats_snapshot_rows reads either the summary tables or the base tables,
-- chosen by a parameter. SQL functions are planned with their parameters as
-- such (a generic plan), so the plan's cost includes the base-table branch
-- (full scans of ten million missions) even when it is skipped at run time;
-- past jit_above_cost that makes PostgreSQL JIT-compile the query on every
-- call: 36 ms instead of 1.5 ms per snapshot at 1M consultants / 10M missions.
ALTER FUNCTION stats_snapshot_rows(integer, boolean) SET jit = off;
