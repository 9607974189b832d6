-- Reference for the radius query (issue 11, row 4), not a ceiling: the brief's query, a cast
-- on the column, which no index can serve (errata 1). Run through psycopg.
SELECT id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom
FROM parcels
WHERE ST_DWithin(geom::geography,
                 ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography, %(radius)s)
