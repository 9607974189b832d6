-- Settings checks (pgspatial.doctor.checks.settings).

-- name: settings
-- Values as a new connection of this role to this database gets them: reset_val holds the
-- server, database and role layers (the doctor connects without startup options, so no
-- client layer), and source says which layer set it.
SELECT name, reset_val AS value, unit, source, boot_val
FROM pg_settings
WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout',
               'random_page_cost', 'jit', 'work_mem')

-- name: role_database_settings
-- ALTER ROLE / ALTER DATABASE settings that apply to this role in this database.
SELECT
    CASE
        WHEN s.setdatabase <> 0 AND s.setrole <> 0 THEN 'role in database'
        WHEN s.setrole <> 0 THEN 'role'
        ELSE 'database'
    END AS level,
    split_part(c.entry, '=', 1) AS name,
    substr(c.entry, length(split_part(c.entry, '=', 1)) + 2) AS value
FROM pg_db_role_setting s
CROSS JOIN LATERAL unnest(s.setconfig) AS c (entry)
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
  AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user))
  AND NOT (s.setdatabase = 0 AND s.setrole = 0)
