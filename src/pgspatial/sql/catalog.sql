-- Reflection of a live database's spatial relations, run by pgspatial.catalog.
-- Sections start with "-- name: <name>"; each holds exactly one statement, and each reads one
-- kind of object for every relation at once (never one query per table).
-- Everything comes from pg_catalog, so nothing depends on the search_path or on the schema
-- PostGIS was installed in: spatial columns are found by type OID in pg_attribute (typmod-less
-- "geometry" columns included) and their type/SRID are parsed from format_type(), which
-- PostGIS's own typmod output function renders as e.g. geometry(PointZ,2263).

-- name: postgis
-- One row when the postgis extension is installed, none otherwise. postgis_lib_version() is
-- called through query_to_xml() with the schema quoted server-side by format('%I'), so it
-- works whichever schema holds PostGIS and whether or not that schema is on the search_path;
-- lib_version is NULL when the role may not call it.
SELECT
    e.extversion AS extension_version,
    CASE WHEN has_schema_privilege(n.oid, 'USAGE')
              AND has_function_privilege(
                    format('%I.postgis_lib_version()', n.nspname), 'EXECUTE')
        THEN (xpath(
            '/row/v/text()',
            query_to_xml(format('SELECT %I.postgis_lib_version() AS v', n.nspname),
                         false, true, '')
        ))[1]::text
    END AS lib_version,
    (SELECT t.oid FROM pg_type t
      WHERE t.typnamespace = e.extnamespace AND t.typname = 'geometry') AS geometry_oid,
    (SELECT t.oid FROM pg_type t
      WHERE t.typnamespace = e.extnamespace AND t.typname = 'geography') AS geography_oid
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'postgis'

-- name: relations
-- Tables, views, materialized views, partitioned and foreign tables with at least one
-- geometry/geography column. Unless :include_system, skips the pg_* schemas,
-- information_schema, PostGIS's topology/tiger schemas and every relation that belongs to an
-- extension (spatial_ref_sys, geometry_columns, ...). Sizes exclude indexes; a partitioned
-- table's size is the sum of its leaf partitions'.
SELECT
    c.oid AS relid,
    n.nspname AS schema,
    c.relname AS name,
    c.relkind::text AS relkind,
    c.relispartition AS is_partition,
    c.reltuples::bigint AS estimated_rows,
    CASE WHEN c.relkind = 'p'
        THEN (SELECT coalesce(sum(pg_table_size(pt.relid)), 0)
                FROM pg_partition_tree(c.oid) pt WHERE pt.isleaf)
        ELSE coalesce(pg_table_size(c.oid), 0)
    END::bigint AS size_bytes,
    has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS readable
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND EXISTS (
        SELECT 1 FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.atttypid IN (:geometry_oid, :geography_oid))
  AND (CAST(:schemas AS text[]) IS NULL OR n.nspname = ANY (CAST(:schemas AS text[])))
  AND (CAST(:include_system AS boolean) OR (
        n.nspname NOT LIKE 'pg\_%'
        AND n.nspname NOT IN ('information_schema', 'topology', 'tiger', 'tiger_data')
        AND NOT EXISTS (
            SELECT 1 FROM pg_depend d
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
               AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')))
ORDER BY n.nspname, c.relname

-- name: columns
-- Every live column of the given relations, in attnum order. For spatial columns the
-- geometry type (with its Z/M suffix) and SRID are parsed from the typmod as format_type()
-- renders it; both are NULL when the column is unconstrained.
SELECT
    a.attrelid AS relid,
    a.attname AS name,
    CASE a.atttypid
        WHEN :geometry_oid THEN 'geometry'
        WHEN :geography_oid THEN 'geography'
    END AS kind,
    format_type(a.atttypid, a.atttypmod) AS data_type,
    NOT a.attnotnull AS nullable,
    upper(m.parts[1]) AS geometry_type,
    m.parts[2]::integer AS srid
FROM pg_attribute a
LEFT JOIN LATERAL (
    SELECT regexp_match(format_type(a.atttypid, a.atttypmod),
                        '\(([A-Za-z]+)(?:,\s*(-?[0-9]+))?\)$') AS parts
     WHERE a.atttypid IN (:geometry_oid, :geography_oid)
) m ON true
WHERE a.attrelid = ANY (CAST(:relids AS oid[]))
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum

-- name: indexes
-- Every index of the given relations (partitioned indexes included; their size is the sum
-- of the partitions' indexes). key_columns has one entry per key column, NULL for an
-- expression; expressions holds pg_get_indexdef() of each expression key, in key order;
-- referenced lists the columns the index's expressions and predicate read (from pg_depend).
SELECT
    i.indrelid AS relid,
    ic.relname AS name,
    am.amname AS method,
    ARRAY(
        SELECT a.attname::text
          FROM generate_series(0, i.indnkeyatts - 1) AS k
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k]
                                  AND i.indkey[k] <> 0
         ORDER BY k
    ) AS key_columns,
    ARRAY(
        SELECT pg_get_indexdef(i.indexrelid, k + 1, false)
          FROM generate_series(0, i.indnkeyatts - 1) AS k
         WHERE i.indkey[k] = 0
         ORDER BY k
    ) AS expressions,
    ARRAY(
        SELECT a.attname::text
          FROM pg_depend d
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
           AND d.refobjsubid > 0
         ORDER BY a.attnum
    ) AS referenced,
    pg_get_expr(i.indpred, i.indrelid) AS predicate,
    i.indisvalid AS is_valid,
    i.indisunique AS is_unique,
    i.indisprimary AS is_primary,
    CASE WHEN ic.relkind = 'I'
        THEN (SELECT coalesce(sum(pg_relation_size(pt.relid)), 0)
                FROM pg_partition_tree(ic.oid) pt WHERE pt.isleaf)
        ELSE coalesce(pg_relation_size(ic.oid), 0)
    END::bigint AS size_bytes,
    pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY (CAST(:relids AS oid[]))
ORDER BY i.indrelid, ic.relname

-- name: constraints
-- CHECK, PRIMARY KEY, UNIQUE, FOREIGN KEY and EXCLUDE constraints of the given relations,
-- with their own columns (conkey) in declaration order.
SELECT
    con.conrelid AS relid,
    con.conname AS name,
    con.contype::text AS contype,
    pg_get_constraintdef(con.oid) AS definition,
    ARRAY(
        SELECT a.attname::text
          FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, ord)
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
         ORDER BY k.ord
    ) AS columns,
    con.convalidated AS validated
FROM pg_constraint con
WHERE con.conrelid = ANY (CAST(:relids AS oid[]))
  AND con.contype IN ('c', 'p', 'u', 'f', 'x')
ORDER BY con.conrelid, con.conname
