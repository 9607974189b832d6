-- Ceiling for the bbox query (issue 11, row 4): the best hand-written SQL for the parcels
-- whose bounding box overlaps a lon/lat rectangle, the GiST operator against a constant
-- envelope. Run through psycopg. Committed before any tuning; never rewritten.
SELECT id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom
FROM parcels
WHERE geom && ST_MakeEnvelope(%(xmin)s, %(ymin)s, %(xmax)s, %(ymax)s, 4326)
