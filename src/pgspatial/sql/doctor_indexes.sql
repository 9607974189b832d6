-- Index checks (pgspatial.doctor.checks.indexes), over every index of the non-system
-- schemas (relations that belong to extensions excluded).

-- name: duplicates
-- Groups of indexes on one table with the same access method, key columns, operator
-- classes, collations, sort options, expressions and predicate: PostgreSQL maintains each
-- on every write and the planner uses one. GeoAlchemy2's automatic idx_<table>_<column>
-- next to a hand-written GiST index on the same column is the usual case (errata 7).
-- Within a group, indexes that back a constraint come first, then the older (lower OID).
SELECT
    n.nspname AS schema,
    t.relname AS table_name,
    am.amname AS method,
    array_agg(ic.relname::text ORDER BY
        (EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)) DESC,
        i.indisvalid DESC, ic.oid) AS names,
    array_agg(pg_relation_size(i.indexrelid) ORDER BY
        (EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)) DESC,
        i.indisvalid DESC, ic.oid) AS sizes,
    array_agg(EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
        ORDER BY
        (EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)) DESC,
        i.indisvalid DESC, ic.oid) AS backs_constraint,
    min(pg_get_indexdef(i.indexrelid)) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE n.nspname NOT LIKE 'pg\_%'
  AND n.nspname NOT IN ('information_schema', 'topology', 'tiger', 'tiger_data')
  AND NOT EXISTS (
        SELECT 1 FROM pg_depend d
         WHERE d.classid = 'pg_class'::regclass AND d.objid = t.oid
           AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
GROUP BY n.nspname, t.relname, i.indrelid, am.amname, i.indkey::text, i.indclass::text,
         i.indcollation::text, i.indoption::text,
         coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
         coalesce(pg_get_expr(i.indpred, i.indrelid), '')
HAVING count(*) > 1
ORDER BY 1, 2, 3

-- name: invalid
-- Indexes left INVALID by a failed or cancelled CREATE INDEX CONCURRENTLY or REINDEX
-- CONCURRENTLY (errata 13), except those a CREATE INDEX is building right now. PostgreSQL
-- still updates them on every write but never reads them.
SELECT
    n.nspname AS schema,
    t.relname AS table_name,
    ic.relname AS name,
    pg_relation_size(i.indexrelid) AS size_bytes,
    pg_get_indexdef(i.indexrelid) AS definition,
    EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
        AS backs_constraint
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT i.indisvalid
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
  AND NOT EXISTS (
        SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
ORDER BY 1, 2, 3
