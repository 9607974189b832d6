-- What every doctor run reads first (pgspatial.doctor.context): who and where we are, which
-- extensions exist, what the role may do, and how old the statistics are.
-- Sections start with "-- name: <name>"; each holds exactly one statement. The loader
-- prefixes every statement with /* pgspatial doctor */ so the workload checks can leave the
-- doctor's own statements out of pg_stat_statements.

-- name: facts
SELECT
    current_database() AS database,
    current_user AS role,
    d.oid AS database_oid,
    coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), false)
        AS is_superuser,
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
    pg_has_role(current_user, 'pg_stat_scan_tables', 'USAGE') AS stat_scan_tables,
    current_setting('server_version') AS server_version,
    current_setting('server_version_num')::integer AS server_version_num,
    pg_is_in_recovery() AS in_recovery,
    pg_postmaster_start_time() AS postmaster_start,
    (SELECT s.stats_reset FROM pg_stat_database s WHERE s.datid = d.oid) AS stats_reset,
    has_function_privilege('pg_catalog.pg_stat_file(text)', 'EXECUTE') AS can_stat_file,
    now() AS now
FROM pg_database d
WHERE d.datname = current_database()

-- name: extensions
-- The three extensions the doctor cares about: whether the server has them (a control file)
-- and whether this database has them installed, in which schema, at which version.
SELECT
    a.name,
    a.default_version,
    e.extversion AS installed_version,
    n.nspname AS schema
FROM pg_available_extensions a
LEFT JOIN pg_extension e ON e.extname = a.name
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE a.name IN ('postgis', 'pg_stat_statements', 'pgstattuple')

-- name: database_created
-- When this database was created: the modification time of its PG_VERSION file, written
-- by CREATE DATABASE. Needs pg_stat_file (superuser, or an explicit GRANT).
SELECT (pg_stat_file('base/' || CAST(:database_oid AS text) || '/PG_VERSION')).modification
    AS created

-- name: function_privilege
SELECT has_function_privilege(CAST(:signature AS text), 'EXECUTE') AS allowed

-- name: table_stats
-- Activity and maintenance counters of every table, partition and materialized view in
-- the non-system schemas, with the autovacuum reloptions that matter here. rows is
-- reltuples, or n_live_tup before the first ANALYZE/VACUUM (reltuples = -1): n_live_tup
-- alone is unreliable (on PostgreSQL 15 the inserts of a transaction that also ran ANALYZE
-- are counted on top of ANALYZE's own estimate). A partitioned parent's rows are the sum
-- of its leaf partitions'.
SELECT
    n.nspname AS schema,
    c.relname AS name,
    c.relkind::text AS relkind,
    c.relispartition AS is_partition,
    c.reltuples::bigint AS reltuples,
    CASE WHEN c.relkind = 'p' THEN
        (SELECT coalesce(sum(CASE WHEN pc.reltuples >= 0 THEN pc.reltuples
                                  ELSE coalesce(s2.n_live_tup, 0) END), 0)
           FROM pg_partition_tree(c.oid) pt
           JOIN pg_class pc ON pc.oid = pt.relid
           LEFT JOIN pg_stat_all_tables s2 ON s2.relid = pt.relid
          WHERE pt.isleaf)
    WHEN c.reltuples >= 0 THEN c.reltuples
    ELSE coalesce(s.n_live_tup, 0)
    END::bigint AS rows,
    coalesce(s.n_live_tup, 0) AS n_live_tup,
    coalesce(s.n_dead_tup, 0) AS n_dead_tup,
    coalesce(s.n_mod_since_analyze, 0) AS n_mod_since_analyze,
    s.last_analyze,
    s.last_autoanalyze,
    s.last_vacuum,
    s.last_autovacuum,
    coalesce(s.seq_scan, 0) AS seq_scan,
    coalesce(s.seq_tup_read, 0) AS seq_tup_read,
    coalesce(s.idx_scan, 0) AS idx_scan,
    (SELECT option_value FROM pg_options_to_table(c.reloptions)
      WHERE option_name = 'autovacuum_enabled') AS autovacuum_enabled,
    (SELECT option_value FROM pg_options_to_table(c.reloptions)
      WHERE option_name = 'autovacuum_vacuum_scale_factor') AS vacuum_scale_factor,
    (SELECT option_value FROM pg_options_to_table(c.reloptions)
      WHERE option_name = 'autovacuum_analyze_scale_factor') AS analyze_scale_factor
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'

-- name: index_stats
-- Scans of every index of the non-system schemas, whether it backs a constraint, and
-- whether a CREATE INDEX is building it right now (an in-progress CONCURRENTLY build is
-- INVALID until it finishes, and is no problem).
SELECT
    n.nspname AS schema,
    t.relname AS table_name,
    ic.relname AS name,
    coalesce(s.idx_scan, 0) AS idx_scan,
    s.relid IS NOT NULL AS has_stats,
    EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid) AS backs_constraint,
    EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
        AS being_built
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
WHERE n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
