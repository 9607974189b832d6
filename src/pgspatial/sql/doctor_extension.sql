-- Extension checks (pgspatial.doctor.checks.extension). __SCHEMA__ is replaced by the
-- quoted schema the extension is installed in.

-- name: postgis_full_version
SELECT __SCHEMA__.postgis_full_version() AS full_version

-- name: pg_stat_statements_probe
-- Fails with "pg_stat_statements must be loaded via shared_preload_libraries" when the
-- extension is installed but its library is not preloaded.
SELECT count(*) AS entries, current_setting('pg_stat_statements.max')::integer AS capacity
FROM __SCHEMA__.pg_stat_statements(false)
