-- Reference for bulk loads (issue 11, row 1), not a ceiling: the brief's path, psycopg's
-- executemany of one INSERT per row with the geometry as WKB, in one transaction.
-- Run by bench/bulk.py through psycopg with one parameter mapping per row.
INSERT INTO bulk.parcels (id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom)
VALUES (%(id)s, %(parcel_id)s, %(zoning_id)s, %(land_use)s, %(year_built)s, %(assessed_value)s,
        ST_GeomFromWKB(%(geom)s, 4326))
