-- Ceiling for exports to NDJSON (issue 11, row 3): psql's \copy of the same per-feature text
-- `pgspatial export parcels --format ndjson` asks PostgreSQL for (one Feature per line,
-- 15 digits), written to /dev/null. Committed before any tuning; never rewritten.
\copy (SELECT concat('{"type":"Feature","id":', to_json(id)::text, ',"geometry":', ST_AsGeoJSON(geom, 15), ',"properties":', json_build_object('parcel_id', parcel_id, 'zoning_id', zoning_id, 'land_use', land_use, 'year_built', year_built, 'assessed_value', assessed_value)::text, '}') FROM parcels) TO '/dev/null' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
