-- Column checks (pgspatial.doctor.checks.columns): sampled reads of one spatial column.
-- __TABLE__ and __COLUMN__ are replaced by quoted identifiers, __SAMPLE__ by either nothing
-- (small tables are read whole) or "TABLESAMPLE SYSTEM (<percent>)". At most :limit rows
-- are read either way.

-- name: sample_srids
SELECT ST_SRID(g) AS srid, GeometryType(g) AS geometry_type, count(*) AS rows
FROM (SELECT __COLUMN__::geometry AS g FROM __TABLE__ __SAMPLE__
       WHERE __COLUMN__ IS NOT NULL LIMIT :limit) AS sample
GROUP BY 1, 2
ORDER BY 3 DESC

-- name: sample_validity
-- One row per ST_IsValidReason of the invalid rows (reason NULL: the valid ones).
-- ST_IsValidReason ends with the location of the problem ("Self-intersection[1 1]"); the
-- location is cut off so that reasons can be counted.
SELECT
    CASE WHEN NOT ST_IsValid(g)
        THEN regexp_replace(ST_IsValidReason(g), '\s*\[.*\]$', '')
    END AS reason,
    count(*) AS rows
FROM (SELECT __COLUMN__ AS g FROM __TABLE__ __SAMPLE__
       WHERE __COLUMN__ IS NOT NULL LIMIT :limit) AS sample
GROUP BY 1
ORDER BY 2 DESC
