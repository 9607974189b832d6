-- Ceiling for bulk loads (issue 11, row 1): the server reads the 100k parcels itself, with a
-- server-side COPY FROM a file in binary format (geometries as EWKB, the cheapest input
-- PostGIS has: no hex, no text parsing, no client), into the same empty table every variant
-- starts from (primary key, unique parcel_id, GiST on geom, validity CHECK present), then
-- commits. No validation beyond the table's own constraints, no ANALYZE.
-- Committed before any tuning; never rewritten to flatter us.
-- Run by bench/bulk.py in one transaction with :'source' replaced by the file's path;
-- by hand: psql -1 -v source=/tmp/pgspatial-bench/parcels-100000.bin -f bulk_copy_ceiling.sql
COPY bulk.parcels (id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom)
FROM :'source' WITH (FORMAT binary);
