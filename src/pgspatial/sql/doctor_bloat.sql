-- Bloat checks (pgspatial.doctor.checks.bloat). __PGSTATTUPLE__ is replaced by the quoted
-- schema of the pgstattuple extension.

-- name: gist_candidates
-- GiST indexes with their size, the rows of their table and their operator class: the
-- size-ratio prefilter (errata 6) compares the size with rows x bytes per entry, so that
-- pgstattuple, which reads the whole index, runs only on suspicious ones.
SELECT
    n.nspname AS schema,
    t.relname AS table_name,
    ic.relname AS name,
    i.indexrelid::bigint AS index_oid,
    pg_relation_size(i.indexrelid) AS size_bytes,
    (CASE WHEN t.reltuples >= 0 THEN t.reltuples ELSE coalesce(s.n_live_tup, 0) END)::bigint
        AS rows,
    opc.opcname AS opclass
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
JOIN pg_opclass opc ON opc.oid = i.indclass[0]
LEFT JOIN pg_stat_all_tables s ON s.relid = t.oid
WHERE am.amname = 'gist'
  AND ic.relkind = 'i'
  AND i.indisvalid
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 3

-- name: gist_pgstattuple
-- pgstatindex() refuses GiST indexes ("is not a btree index", errata 6); pgstattuple()
-- reads any relation and reports the free space and the dead tuples of the index pages.
SELECT
    table_len,
    tuple_count,
    dead_tuple_percent,
    free_percent
FROM __PGSTATTUPLE__.pgstattuple(CAST(:index_oid AS oid)::regclass)

-- name: btree_candidates
-- B-tree indexes (primary keys included) larger than :min_bytes, with their fillfactor
-- (default 90): a freshly built B-tree's leaf pages are that full.
SELECT
    n.nspname AS schema,
    t.relname AS table_name,
    ic.relname AS name,
    i.indexrelid::bigint AS index_oid,
    pg_relation_size(i.indexrelid) AS size_bytes,
    coalesce((SELECT option_value::integer FROM pg_options_to_table(ic.reloptions)
               WHERE option_name = 'fillfactor'), 90) AS fillfactor
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE am.amname = 'btree'
  AND ic.relkind = 'i'
  AND i.indisvalid
  AND pg_relation_size(i.indexrelid) >= :min_bytes
  AND n.nspname NOT LIKE 'pg\_%'
  AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 3

-- name: btree_pgstatindex
-- pgstattuple's pgstatindex(): avg_leaf_density is how full the leaf pages are; compared
-- with the fillfactor it gives the share of the leaf level that is empty space.
SELECT
    index_size,
    leaf_pages,
    avg_leaf_density,
    leaf_fragmentation
FROM __PGSTATTUPLE__.pgstatindex(CAST(:index_oid AS oid)::regclass)
