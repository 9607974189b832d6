-- Ceiling of GET /collections/parcels/tiles/Z/X/Y.mvt (bench/service.py; issue 11). The
-- best hand-written SQL for one Mapbox Vector Tile of the parcels: the GiST index finds
-- the rows whose bounding box overlaps the tile plus its buffer (64 of 4096 units, the
-- service's), brought to EPSG:4326 once (a Web Mercator rectangle is a lon/lat rectangle,
-- so four corners suffice); PostGIS transforms and clips only those rows and encodes the
-- layer with the id as the feature id and the other columns as properties (numeric as
-- double). Run by pgbench -M prepared, 8 clients, parallel query off (PGOPTIONS), with
-- :z :x :y set per transaction from the same rotating list of tiles the HTTP load uses.
-- Committed before any tuning of the service; never rewritten to flatter it.
SELECT ST_AsMVT(tile, 'parcels', 4096, 'geom', 'id')
FROM (
    SELECT p.id, p.parcel_id, p.zoning_id, p.land_use, p.year_built,
           p.assessed_value::float8 AS assessed_value,
           ST_AsMVTGeom(ST_Transform(p.geom, 3857), ST_TileEnvelope(:z, :x, :y), 4096, 64, true)
               AS geom
    FROM parcels AS p
    WHERE p.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096), 4326)
) AS tile;
