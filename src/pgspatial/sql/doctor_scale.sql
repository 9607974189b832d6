-- Scale checks (pgspatial.doctor.checks.scale).

-- name: replication
-- The streaming replicas of this primary, as pg_stat_replication shows them. Without
-- pg_read_all_stats the rows are there but their positions are NULL (visible = false).
SELECT
    application_name,
    coalesce(host(client_addr), 'local socket') AS client,
    state,
    replay_lsn IS NOT NULL AS visible,
    CASE WHEN pg_is_in_recovery() OR replay_lsn IS NULL THEN NULL
         ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
    END AS lag_bytes,
    extract(epoch FROM replay_lag)::float8 AS replay_lag_s
FROM pg_stat_replication
ORDER BY application_name

-- name: standby
-- Run on a replica given by URL: how much received WAL is not replayed yet, whether replay
-- is paused, and how long ago the last replayed transaction committed on the primary.
SELECT
    pg_is_in_recovery() AS in_recovery,
    CASE WHEN pg_is_in_recovery()
        THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
    END AS lag_bytes,
    CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused,
    CASE WHEN pg_is_in_recovery()
        THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
    END AS since_last_replay_s
