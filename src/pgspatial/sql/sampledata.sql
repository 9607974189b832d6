-- Deterministic NYC-like sample data, run by pgspatial.sampledata in one transaction.
-- Sections start with "-- name: <name>"; each holds exactly one statement.
-- Units: metres on a local plane, x east and y north of (-74.02, 40.70), converted to
-- degrees only when vertices are built. Pseudo-random numbers never come from random():
-- h = pg_temp.sd_hash('seed:tag:ids') is the 128-bit md5 of a key, and pg_temp.sd_u(h, k)
-- its k-th 32-bit word (k = 0..3) as a float in [0, 1). Hashes are taken in LATERAL
-- subqueries with OFFSET 0, which keeps the planner from inlining (and so recomputing)
-- the md5 at every use.

-- name: drop
-- parcels first: it references zoning_districts.
DROP TABLE IF EXISTS parcels, zoning_districts

-- name: create_zoning
CREATE TABLE zoning_districts (
    id integer PRIMARY KEY,
    zone_code varchar(16) NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT ck_zoning_districts_geom_valid CHECK (ST_IsValid(geom))
)

-- name: create_parcels
-- The keys are added after the rows (parcels_keys), which is several seconds faster for a
-- million rows than checking them row by row; the finished table is the same as from
--     id bigint PRIMARY KEY, parcel_id varchar(50) NOT NULL UNIQUE,
--     zoning_id integer REFERENCES zoning_districts(id)
CREATE TABLE parcels (
    id bigint NOT NULL,
    parcel_id varchar(50) NOT NULL,
    zoning_id integer,
    land_use varchar(32) NOT NULL,
    year_built integer,
    assessed_value numeric(14,2) NOT NULL,
    geom geometry(Polygon, 4326) NOT NULL,
    CONSTRAINT ck_parcels_geom_valid CHECK (ST_IsValid(geom))
)

-- name: parcels_keys
ALTER TABLE parcels
    ADD CONSTRAINT parcels_pkey PRIMARY KEY (id),
    ADD CONSTRAINT parcels_parcel_id_key UNIQUE (parcel_id),
    ADD CONSTRAINT parcels_zoning_id_fkey FOREIGN KEY (zoning_id) REFERENCES zoning_districts (id)

-- name: index_zoning_geom
CREATE INDEX ix_zoning_districts_geom ON zoning_districts USING gist (geom)

-- name: index_parcels_geom
CREATE INDEX ix_parcels_geom ON parcels USING gist (geom)

-- name: index_parcels_zoning_id
CREATE INDEX ix_parcels_zoning_id ON parcels (zoning_id)

-- name: fn_hash
CREATE OR REPLACE FUNCTION pg_temp.sd_hash(key text) RETURNS bit(128)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ('x' || md5(key))::bit(128) $$

-- name: fn_uniform
CREATE OR REPLACE FUNCTION pg_temp.sd_u(h bit(128), k integer) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT substring(h FROM 32 * k + 1 FOR 32)::bigint::float8 / 4294967296 $$

-- name: fn_lon
-- Metres east of the origin to longitude (1 degree = 111,320 m * cos 40.70), to 1e-7 degree.
CREATE OR REPLACE FUNCTION pg_temp.sd_lon(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT round(-740200000 + x * 1e7 / (111320 * cosd(40.70))) / 1e7 $$

-- name: fn_lat
-- Metres north of the origin to latitude (1 degree = 110,574 m at 40.70 N), to 1e-7 degree.
CREATE OR REPLACE FUNCTION pg_temp.sd_lat(y float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT round(407000000 + y * 1e7 / 110574) / 1e7 $$

-- name: blocks
-- One row per city block: its rectangle, its cell (the block plus half of each street
-- around it, so cells tile the plane), its lots per row and its zoning district.
-- Columns (x) are avenue blocks 180-270 m long, rows (y) 60-90 m deep, streets 18-30 m.
-- Blocks fill a grid about as tall as it is wide, row by row, up to `parcels` lots.
-- Districts: runs of 1-3 block columns, each cut into runs of 2-8 block rows (cut afresh
-- in every run of columns, like bricks); some runs join the run two below them.
CREATE TEMP TABLE sd_block ON COMMIT DROP AS
WITH p AS (
    SELECT CAST(:seed AS bigint) AS seed, CAST(:parcels AS integer) AS n,
           greatest(2, ceil(sqrt(CAST(:parcels AS integer) / 83.0)))::integer AS ncols,
           ceil(CAST(:parcels AS integer) / 20.0)::integer AS maxblocks  -- >= 20 lots/block
), line AS (  -- block columns (axis 0) and rows (axis 1), each preceded by a street
    SELECT axis, i, CASE axis WHEN 0 THEN 180 + 90 * pg_temp.sd_u(h, 0)
                              ELSE 60 + 30 * pg_temp.sd_u(h, 0) END AS size,
           18 + 12 * pg_temp.sd_u(h, 1) AS street
    FROM p, generate_series(0, 1) AS axis,
         generate_series(0, CASE axis WHEN 0 THEN p.ncols ELSE p.maxblocks / p.ncols + 1 END) i,
         LATERAL (SELECT pg_temp.sd_hash(p.seed || ':line:' || axis || ':' || i) AS h OFFSET 0) m
), pos AS (
    SELECT axis, i, size, sum(size + street) OVER w - size AS lo,
           sum(size + street) OVER w - size - street / 2 AS cell_lo
    FROM line WINDOW w AS (PARTITION BY axis ORDER BY i)
), edge AS (  -- a cell ends where the next one starts: mid-street
    SELECT pos.*, lead(cell_lo) OVER (PARTITION BY axis ORDER BY i) AS cell_hi FROM pos
), dcol AS (  -- district columns: runs of 1-3 block columns
    SELECT d, sum(span) OVER (ORDER BY d) - span AS first, span
    FROM p, generate_series(0, p.ncols) AS d, LATERAL (SELECT
        1 + floor(3 * pg_temp.sd_u(pg_temp.sd_hash(p.seed || ':dcol:' || d), 0))::integer
        AS span) AS s
), drow AS (  -- district rows: runs of 2-8 block rows; k % 4 in (2, 3) may join k - 2
    SELECT d, k, sum(span) OVER (PARTITION BY d ORDER BY k) - span AS first, span,
           CASE WHEN k % 4 >= 2 AND pg_temp.sd_u(h, 1) < 0.35 THEN k - 2 ELSE k END AS dk
    FROM p, generate_series(0, p.ncols) AS d, generate_series(0, p.maxblocks / p.ncols / 2) k,
         LATERAL (SELECT pg_temp.sd_hash(p.seed || ':drow:' || d || ':' || k) AS h OFFSET 0) m,
         LATERAL (SELECT 2 + floor(7 * pg_temp.sd_u(h, 0))::integer AS span) AS s
), blockpos AS MATERIALIZED (  -- materialized so that drow is joined on both keys at once
    SELECT r.i * p.ncols + c.i AS b, 1 + 5 * c.i / p.ncols AS boro, r.i AS row, dc.d,
           c.lo AS x0, c.size AS len, r.lo AS y0, r.size AS depth,
           c.cell_lo AS cx0, c.cell_hi AS cx1, r.cell_lo AS cy0, r.cell_hi AS cy1
    FROM p
    JOIN edge AS c ON c.axis = 0 AND c.i < p.ncols
    JOIN edge AS r ON r.axis = 1 AND r.i * p.ncols + c.i < p.maxblocks
    JOIN (SELECT d, generate_series(first, first + span - 1) AS col FROM dcol) AS dc
        ON dc.col = c.i
), lots AS (  -- lots per row for a mean frontage of 10-18 m; the two rows meet at ymid
    SELECT bp.*, dr.dk, round(len / (10 + 8 * pg_temp.sd_u(h, 0)))::integer AS n_south,
           round(len / (10 + 8 * pg_temp.sd_u(h, 1)))::integer AS n_north,
           y0 + depth * (0.42 + 0.16 * pg_temp.sd_u(h, 2)) AS ymid
    FROM p, blockpos AS bp
    JOIN (SELECT d, dk, generate_series(first, first + span - 1) AS row FROM drow) AS dr
        ON dr.d = bp.d AND dr.row = bp.row,
         LATERAL (SELECT pg_temp.sd_hash(p.seed || ':block:' || bp.b) AS h OFFSET 0) AS m
), placed AS (
    SELECT lots.*, sum(n_south + n_north) OVER (ORDER BY b) - n_south - n_north AS first_lot
    FROM lots
), kept AS (  -- the blocks needed for `parcels` lots; districts numbered from 1
    SELECT placed.*, dense_rank() OVER (ORDER BY d, dk)::integer AS district_id,
           min(x0 + y0) OVER (PARTITION BY d, dk) AS district_origin
    FROM placed, p WHERE first_lot < p.n
)
SELECT kept.*, zone_code
FROM kept, p,
     LATERAL (SELECT pg_temp.sd_hash(p.seed || ':zone:' || d || ':' || dk) AS h OFFSET 0) AS m,
     LATERAL (  -- density falls with distance from the south-west "downtown" corner
         SELECT least(0.999, 0.6 * pg_temp.sd_u(h, 1) + 0.4 * exp(-district_origin / 8000.0))
             AS density) AS dens,
     LATERAL (  -- 66% residential, 22% commercial, 12% manufacturing; low to high density
         SELECT CASE WHEN pg_temp.sd_u(h, 0) < 0.66 THEN ARRAY[
                    'R1-2', 'R2', 'R3-1', 'R3-2', 'R4', 'R4-1', 'R5', 'R5B', 'R6', 'R6B',
                    'R6A', 'R7-1', 'R7B', 'R7A', 'R7-2', 'R8B', 'R8', 'R8A', 'R9', 'R10']
                WHEN pg_temp.sd_u(h, 0) < 0.88 THEN ARRAY[
                    'C8-1', 'C8-2', 'C1-2', 'C1-3', 'C2-3', 'C2-4', 'C4-2', 'C8-3', 'C8-4',
                    'C4-4', 'C1-6', 'C2-6', 'C4-5', 'C1-9', 'C2-8', 'C4-7', 'C5-2', 'C6-2',
                    'C6-4', 'C5-3', 'C6-9']
                ELSE ARRAY['M3-1', 'M3-2', 'M2-1', 'M2-3', 'M1-1', 'M1-2', 'M2-2', 'M1-4',
                           'M2-4', 'M1-3', 'M1-5', 'M1-6'] END AS codes) AS z,
     LATERAL (SELECT codes[1 + floor(density * cardinality(codes))::integer] AS zone_code) AS c

-- name: zoning
-- A district is the union of its blocks' cells, streets included, so the blocks of one
-- district merge into one polygon; a district that absorbed another has two parts.
INSERT INTO zoning_districts (id, zone_code, geom)
SELECT district_id, zone_code,
       ST_Multi(ST_Union(ST_MakeEnvelope(pg_temp.sd_lon(cx0), pg_temp.sd_lat(cy0),
                                         pg_temp.sd_lon(cx1), pg_temp.sd_lat(cy1), 4326)))
FROM sd_block
GROUP BY district_id, zone_code

-- name: parcels
-- Each block holds two rows of lots back to back: the south row fronts the street south of
-- the block, the north row the street north of it, and they meet on the line y = ymid.
-- A row of n lots has n + 1 dividers, lot widths in proportion to weights in 0.7-1.3.
-- Inner divider i runs from xf on the street to xf + jr (|jr| <= 1.5 m) on ymid, 30% of
-- them through a kink point halfway, so lots are irregular quadrilaterals (or have one or
-- two more vertices). Lots are at least ~5 m wide, so dividers never cross. Neighbours
-- read the same rounded divider coordinates, so they share that boundary exactly.
INSERT INTO parcels (id, parcel_id, zoning_id, land_use, year_built, assessed_value, geom)
WITH divider AS (
    SELECT b.b, b.boro, b.district_id, b.zone_code, b.first_lot, b.x0, b.y0, b.ymid, s.side,
           s.n, i, m.h, CASE s.side WHEN 0 THEN 0 ELSE b.n_south END + i + 1 AS lot_no,
           CASE s.side WHEN 0 THEN b.y0 ELSE b.y0 + b.depth END AS yf,
           b.x0 + b.len * coalesce(sum(w) OVER before_i, 0) / sum(w) OVER whole_row AS xf
    FROM sd_block AS b,
         LATERAL (VALUES (0, b.n_south), (1, b.n_north)) AS s (side, n),
         generate_series(0, s.n) AS i,
         LATERAL (SELECT pg_temp.sd_hash(CAST(:seed AS bigint) || ':div:' || b.b || ':'
                                         || s.side || ':' || i) AS h OFFSET 0) AS m,
         LATERAL (SELECT CASE WHEN i < s.n THEN 0.7 + 0.6 * pg_temp.sd_u(m.h, 0) ELSE 0 END
                      AS w) AS wt
    WINDOW whole_row AS (PARTITION BY b.b, s.side),
           before_i AS (PARTITION BY b.b, s.side ORDER BY i
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), point AS (  -- the end dividers are the block's sides and are not jittered
    SELECT d.*, xf + jr AS xr, pg_temp.sd_lon(xf) AS fx, pg_temp.sd_lon(xf + jr) AS rx,
           CASE WHEN i > 0 AND i < n AND pg_temp.sd_u(h, 2) < 0.3
                THEN pg_temp.sd_lon(xf + jr / 2 + 2 * pg_temp.sd_u(h, 3) - 1) END AS kx
    FROM divider AS d,
         LATERAL (SELECT CASE WHEN i > 0 AND i < n THEN 3 * pg_temp.sd_u(h, 1) - 1.5 ELSE 0 END
                      AS jr) AS j
), lot AS (
    SELECT pt.*, lead(fx) OVER w AS fx2, lead(rx) OVER w AS rx2, lead(kx) OVER w AS kx2,
           (lead(xf) OVER w + lead(xr) OVER w - xf - xr) / 2 * abs(ymid - yf) AS area
    FROM point AS pt
    WINDOW w AS (PARTITION BY b, side ORDER BY i)
)
SELECT k.id, format('%s-%s-%s', boro, lpad((b + 1)::text, 5, '0'), lpad(lot_no::text, 4, '0')),
       district_id, land_use,
       CASE WHEN pg_temp.sd_u(a, 1) >= 0.05  -- 5% unknown; skewed old, median about 1926
            THEN 1850 + floor(174 * pg_temp.sd_u(a, 2) ^ 1.2)::integer END,
       round(CAST(area * rate * (1 + 2 * exp(-(x0 + y0) / 6000.0))
                  * exp(1.2 * (pg_temp.sd_u(a, 3) - 0.5)) AS numeric), 2),
       -- the ring runs counter-clockwise: south rows front-first, north rows rear-first
       ST_SetSRID(ST_MakePolygon(ST_MakeLine(CASE side WHEN 0 THEN ARRAY[
           ST_Point(fx, fy), ST_Point(fx2, fy), ST_Point(kx2, ky), ST_Point(rx2, ry),
           ST_Point(rx, ry), ST_Point(kx, ky), ST_Point(fx, fy)] ELSE ARRAY[
           ST_Point(rx, ry), ST_Point(rx2, ry), ST_Point(kx2, ky), ST_Point(fx2, fy),
           ST_Point(fx, fy), ST_Point(kx, ky), ST_Point(rx, ry)] END)), 4326)  -- NULLs skipped
FROM lot,
     LATERAL (SELECT first_lot + lot_no AS id, pg_temp.sd_lat(yf) AS fy,
                     pg_temp.sd_lat(ymid) AS ry, pg_temp.sd_lat((yf + ymid) / 2) AS ky) AS k,
     LATERAL (SELECT pg_temp.sd_hash(CAST(:seed AS bigint) || ':lot:' || k.id) AS a OFFSET 0) h,
     LATERAL (SELECT pg_temp.sd_u(a, 0) AS u) AS v,
     LATERAL (SELECT CASE left(zone_code, 1)  -- land use follows the zoning
         WHEN 'R' THEN CASE WHEN u < 0.84 THEN 'residential' WHEN u < 0.90 THEN 'mixed_use'
             WHEN u < 0.94 THEN 'institutional' WHEN u < 0.97 THEN 'open_space'
             WHEN u < 0.99 THEN 'commercial' ELSE 'vacant' END
         WHEN 'C' THEN CASE WHEN u < 0.50 THEN 'commercial' WHEN u < 0.80 THEN 'mixed_use'
             WHEN u < 0.88 THEN 'residential' WHEN u < 0.93 THEN 'institutional'
             WHEN u < 0.97 THEN 'transportation' ELSE 'open_space' END
         ELSE CASE WHEN u < 0.70 THEN 'industrial' WHEN u < 0.80 THEN 'commercial'
             WHEN u < 0.90 THEN 'transportation' WHEN u < 0.96 THEN 'vacant'
             ELSE 'open_space' END END AS land_use) AS lu,
     LATERAL (SELECT CASE land_use  -- assessed dollars per square metre, before location
         WHEN 'residential' THEN 2500 WHEN 'mixed_use' THEN 3500 WHEN 'commercial' THEN 4000
         WHEN 'industrial' THEN 900 WHEN 'institutional' THEN 1500
         WHEN 'transportation' THEN 600 WHEN 'vacant' THEN 400 ELSE 150 END AS rate) AS r
WHERE i < n AND first_lot + lot_no <= CAST(:parcels AS integer)
