-- Workload checks (pgspatial.doctor.checks.workload). __PGSS__ is replaced by the quoted
-- schema of pg_stat_statements.

-- name: spatial_statements
-- The spatial statements of this database, most total time first. A statement is spatial
-- when it calls a function named st_*: a regular expression on the function-call syntax
-- (errata 18), never ILIKE '%ST_%', in which "_" matches any character, so that every
-- text containing "st" and one more character ("first_name", "statement", "list)") would
-- match. The doctor's own statements are left out.
SELECT
    queryid::text AS queryid,
    query,
    calls,
    total_exec_time,
    mean_exec_time,
    rows
FROM __PGSS__.pg_stat_statements(true)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query ~* '\mst_[a-z0-9_]+\s*\('
  AND query NOT LIKE '/* pgspatial doctor */%'
ORDER BY total_exec_time DESC
LIMIT :top
