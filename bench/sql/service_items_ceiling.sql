-- Ceiling of GET /collections/parcels/items?bbox=XMIN,YMIN,XMAX,YMAX&limit=1000
-- (bench/service.py; issue 11). The best hand-written SQL for that page: the rows the
-- GiST index finds for the bbox (the service's filter: bounding-box overlap), the first
-- 1,000 by id (the service's keyset order), each feature written as GeoJSON text by
-- PostGIS, one row per feature (the client only has to put commas and the
-- FeatureCollection envelope around them). Tried before committing: returning the whole
-- collection as one string_agg value instead was about 1.5x slower under the same load.
-- Run by pgbench -M prepared, 8 clients, with :xmin :ymin :xmax :ymax set per
-- transaction from the same rotating list of bboxes the HTTP load uses.
-- Committed before any tuning of the service; never rewritten to flatter it.
SELECT '{"type":"Feature","id":' || p.id
       || ',"geometry":' || ST_AsGeoJSON(p.geom, 15)
       || ',"properties":' || json_build_object(
              'parcel_id', p.parcel_id, 'zoning_id', p.zoning_id, 'land_use', p.land_use,
              'year_built', p.year_built, 'assessed_value', p.assessed_value)::text
       || '}' AS feature
FROM parcels AS p
WHERE p.geom && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)
ORDER BY p.id
LIMIT 1000;
