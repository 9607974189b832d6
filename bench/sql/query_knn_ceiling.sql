-- Ceiling for k-nearest (issue 11, row 4): the best hand-written SQL for the %(k)s parcels
-- nearest to (lon, lat) by spheroid distance, exactly (planar <-> on degrees gets the order
-- wrong, errata 2). The index's <-> gives k real rows; the largest spheroid distance among
-- them, r (+1 cm), bounds the true k-th distance; every row within r (a degree box for the
-- index, then the exact test) is ranked by ST_Distance and cut at k.
-- Run through psycopg. Committed before any tuning; never rewritten.
WITH seed AS (
    SELECT max(ST_Distance(geom::geography,
                           ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)) + 0.01 AS r
    FROM (SELECT geom FROM parcels
          ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
          LIMIT %(k)s) AS knn
)
SELECT p.id, p.parcel_id, p.zoning_id, p.land_use, p.year_built, p.assessed_value, p.geom
FROM parcels AS p, seed
WHERE p.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                          seed.r / (110574.0 * cos(radians(%(lat)s))) * 1.01,
                          seed.r / 110574.0 * 1.01)
  AND ST_DWithin(p.geom::geography,
                 ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, seed.r)
ORDER BY ST_Distance(p.geom::geography,
                     ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
LIMIT %(k)s
