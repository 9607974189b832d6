-- Ceiling for the 500 m radius query (issue 11, row 4): the best hand-written SQL for "every
-- parcel within %(radius)s metres of (lon, lat) on the spheroid" on a geometry(4326) column
-- with a plain GiST index: a degree box around the point for the index (1 % margin; metres
-- per degree as at the equator, shrunk by cos(lat) for longitude), then the exact spheroid
-- test. Run through psycopg. Committed before any tuning; never rewritten.
SELECT id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom
FROM parcels
WHERE geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                        %(radius)s / (110574.0 * cos(radians(%(lat)s))) * 1.01,
                        %(radius)s / 110574.0 * 1.01)
  AND ST_DWithin(geom::geography,
                 ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, %(radius)s)
