-- Reference for k-nearest (issue 11, row 4), not a ceiling: what is usually written, the
-- index's planar <-> on degrees. Fast, but not the spheroid order (errata 2), so it answers
-- a different question; shown for scale. Run through psycopg.
SELECT id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom
FROM parcels
ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
LIMIT %(k)s
