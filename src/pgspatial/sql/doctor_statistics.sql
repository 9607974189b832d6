-- Statistics and vacuum checks (pgspatial.doctor.checks.statistics). The per-table
-- counters come from doctor_context.sql (table_stats).

-- name: estimated_extent
-- NULL when ANALYZE has not gathered spatial statistics for the column, which leaves the
-- planner guessing the selectivity of every spatial predicate on it.
SELECT ST_EstimatedExtent(CAST(:schema AS text), CAST(:table AS text), CAST(:column AS text))
    AS extent

-- name: autovacuum_settings
-- Server-wide values as a new connection gets them (reset_val: startup options aside).
SELECT name, reset_val AS value, source
FROM pg_settings
WHERE name IN ('autovacuum', 'track_counts', 'autovacuum_vacuum_scale_factor',
               'autovacuum_analyze_scale_factor')
