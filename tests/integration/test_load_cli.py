"""pgspatial load / load_file with real files written by GDAL: GeoPackage, Shapefile in US
feet (EPSG:2263), GeoJSON, FlatGeobuf; table creation, appends, refusals, round trips."""

import datetime as dt
import os
import re
import subprocess
import sys

import orjson
import psycopg
import pytest
import shapely
from sqlalchemy import text

from pgspatial.bulk import load_file
from pgspatial.engine import create_engine
from pgspatial.errors import ConfigError, LoadRejected, SchemaError
from pgspatial.urls import libpq_conninfo

from .conftest import run_cli

N = 1_500
BOWTIE = [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]


def ring(i):
    x, y = round(-74.0 + (i % 100) * 0.001, 7), round(40.6 + (i // 100) * 0.001, 7)
    d = 0.0005
    return [
        [x, y],
        [round(x + d, 7), y],
        [round(x + d, 7), round(y + d, 7)],
        [x, round(y + d, 7)],
        [x, y],
    ]


def feature(i, *, mixed=False, geometry=None):
    if geometry is None:
        polygon = [ring(i)]
        geometry = (
            {"type": "MultiPolygon", "coordinates": [polygon]}
            if mixed and i % 10 == 0
            else {"type": "Polygon", "coordinates": polygon}
        )
    return {
        "type": "Feature",
        "properties": {
            "Name": f"lot {i}",
            "floors": i % 40,
            "big": 2**40 + i,
            "area": i * 1.25,
            "active": i % 2 == 0,
            "built": f"19{i % 100:02d}-0{1 + i % 9}-1{i % 10}",
            "seen": f"2024-03-0{1 + i % 9}T10:20:30Z",
        },
        "geometry": geometry,
    }


def write_geojson(path, features):
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    return path


def ogr2ogr(*args):
    subprocess.run(["ogr2ogr", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gis")
    plain = write_geojson(d / "plain.geojson", [feature(i) for i in range(N)])
    mixed = write_geojson(d / "mixed.geojson", [feature(i, mixed=True) for i in range(N)])
    bad = [feature(i) for i in range(200)]
    bad[57] = feature(57, geometry={"type": "Polygon", "coordinates": BOWTIE})
    write_geojson(d / "bad.geojson", bad)
    ogr2ogr("-f", "GPKG", str(d / "two.gpkg"), str(plain), "-nln", "parcels")
    ogr2ogr("-f", "GPKG", "-update", str(d / "two.gpkg"), str(mixed), "-nln", "other")
    (d / "shp").mkdir()
    ogr2ogr("-f", "ESRI Shapefile", "-t_srs", "EPSG:2263", str(d / "shp" / "lots.shp"), str(plain))
    (d / "noprj").mkdir()
    ogr2ogr("-f", "ESRI Shapefile", "-a_srs", "EPSG:2263", "-t_srs", "EPSG:2263",
            str(d / "noprj" / "lots.shp"), str(plain))  # fmt: skip
    (d / "noprj" / "lots.prj").unlink()
    ogr2ogr("-f", "FlatGeobuf", str(d / "mixed.fgb"), str(mixed))
    data = (d / "mixed.fgb").read_bytes()
    (d / "truncated.fgb").write_bytes(data[: len(data) * 2 // 3])
    return d


@pytest.fixture(scope="module")
def db(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        yield database


@pytest.fixture(scope="module")
def engine(db):
    engine = create_engine(db.url)
    yield engine
    engine.dispose()


def cli(db, *args):
    return run_cli("load", *args, env={"DATABASE_URL": db.url})


def query(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def column_types(engine, table):
    rows = query(
        engine,
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped",
        t=table,
    )
    return {name: (kind, not_null) for name, kind, not_null in rows}


def test_geopackage_layers_and_a_new_table_made_the_pgspatial_way(db, engine, files):
    gpkg = str(files / "two.gpkg")
    missing = cli(db, gpkg, "--table", "parcels")
    assert missing.returncode == 2
    assert "has 2 layers (parcels, other); choose one with --layer" in missing.stderr
    unknown = cli(db, gpkg, "--table", "parcels", "--layer", "nope")
    assert unknown.returncode == 2
    assert "has no layer 'nope'; its layers are: parcels, other" in unknown.stderr
    done = cli(db, gpkg, "--table", "parcels", "--layer", "parcels")
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"loaded 1,500 rows into public\.parcels \(new table\): 0 repaired, 0 skipped, "
        r"[\d.]+ s, [\d,]+ rows/s",
        " ".join(done.stderr.split()),
    ), done.stderr
    assert "Traceback" not in done.stderr
    assert column_types(engine, "parcels") == {
        "fid": ("bigint", True),
        "name": ("text", False),
        "floors": ("integer", False),
        "big": ("bigint", False),
        "area": ("double precision", False),
        "active": ("boolean", False),
        "built": ("date", False),
        "seen": ("timestamp with time zone", False),
        "geom": ("geometry(Polygon,4326)", True),
    }
    ((indexes, checks),) = query(
        engine,
        "SELECT (SELECT array_agg(indexname::text) FROM pg_indexes WHERE tablename = 'parcels' "
        "AND indexdef LIKE '%gist%'), (SELECT array_agg(conname::text) FROM pg_constraint "
        "WHERE conrelid = 'parcels'::regclass AND contype = 'c')",
    )
    assert indexes == ["ix_parcels_geom"] and checks == ["ck_parcels_geom_valid"]
    row = query(
        engine,
        "SELECT fid, name, floors, big, area, active, built, seen FROM parcels WHERE fid = 8",
    )
    assert row == [(8, "lot 7", 7, 2**40 + 7, 8.75, False, dt.date(1907, 8, 17),
                    dt.datetime(2024, 3, 8, 10, 20, 30, tzinfo=dt.UTC))]  # fmt: skip
    ((stats,),) = query(engine, "SELECT reltuples FROM pg_class WHERE relname = 'parcels'")
    assert stats == N


def test_appends_to_a_compatible_table_and_refuses_an_incompatible_one(db, engine, files):
    load_file(engine, files / "plain.geojson", "appended")
    report = load_file(engine, files / "two.gpkg", "appended", layer="parcels")
    assert (report.rows_loaded, report.created) == (N, False)
    assert query(engine, "SELECT count(*), count(DISTINCT fid) FROM appended") == [(2 * N, 2 * N)]
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE points (id serial PRIMARY KEY, geom geometry(Point, 4326))")
        )
        conn.execute(text("CREATE TABLE narrow (id serial PRIMARY KEY, name text, floors text, "
                          "geom geometry(Polygon, 4326))"))  # fmt: skip
    with pytest.raises(SchemaError, match=r"points\.geom is POINT but the layer holds Polygon"):
        load_file(engine, files / "plain.geojson", "points")
    with pytest.raises(SchemaError) as caught:
        load_file(engine, files / "plain.geojson", "narrow")
    assert "field 'big' has no column" in str(caught.value)
    assert "field 'active' has no column" in str(caught.value)
    with pytest.raises(SchemaError, match=r"is in SRID 4326 .* pass --srid 4326"):
        load_file(engine, files / "shp" / "lots.shp", "appended")
    assert query(engine, "SELECT count(*) FROM narrow") == [(0,)]


def test_shapefile_in_us_feet_keeps_its_crs_or_is_reprojected(engine, files):
    report = load_file(engine, files / "shp" / "lots.shp", "lots_2263")
    assert report.rows_loaded == N
    types = column_types(engine, "lots_2263")
    assert types["geom"] == ("geometry(Polygon,2263)", True)
    assert types["name"] == ("character varying(80)", False)
    load_file(engine, files / "shp" / "lots.shp", "lots_4326", srid=4326)
    ((worst,),) = query(
        engine,
        "SELECT max(ST_HausdorffDistance(a.geom, ST_Transform(b.geom, 4326))) "
        "FROM lots_4326 a JOIN lots_2263 b USING (fid)",
    )
    assert worst < 1e-9
    ((offset,),) = query(
        engine,
        "SELECT max(ST_Distance(ST_StartPoint(ST_ExteriorRing(geom)), "
        "ST_SetSRID(ST_MakePoint(round((-74.0 + (fid % 100) * 0.001)::numeric, 7), "
        "round((40.6 + (fid / 100) * 0.001)::numeric, 7)), 4326))) FROM lots_4326",
    )
    assert offset < 1e-8  # the feet went back to the degrees they came from


def test_mixed_geojson_needs_promote_to_multi(db, engine, files):
    refused = cli(db, str(files / "mixed.geojson"), "--table", "mixed")
    assert refused.returncode == 2
    assert "mixes MultiPolygon and Polygon geometries; pass --promote-to-multi" in refused.stderr
    assert query(engine, "SELECT to_regclass('mixed')") == [(None,)]
    done = cli(db, str(files / "mixed.geojson"), "--table", "mixed", "--promote-to-multi")
    assert done.returncode == 0, done.stderr
    assert column_types(engine, "mixed")["geom"] == ("geometry(MultiPolygon,4326)", True)
    assert query(
        engine, "SELECT count(*), count(*) FILTER (WHERE ST_NumGeometries(geom) = 1) FROM mixed"
    ) == [(N, N)]


def test_flatgeobuf_loads_with_its_types(engine, files):
    report = load_file(engine, files / "mixed.fgb", "from_fgb", promote_to_multi=True)
    assert report.rows_loaded == N
    types = column_types(engine, "from_fgb")
    assert types["floors"][0] == "integer" and types["active"][0] == "boolean"
    assert types["geom"] == ("geometry(MultiPolygon,4326)", True)
    # FlatGeobuf stores features in spatial (Hilbert) order: match them by name
    assert query(engine, "SELECT floors, big, active FROM from_fgb WHERE name = 'lot 39'") == [
        (39, 2**40 + 39, False)
    ]


def test_bad_rows_skip_into_a_report_or_refuse_the_load(db, engine, files, tmp_path):
    refused = cli(db, str(files / "bad.geojson"), "--table", "bad")
    assert refused.returncode == 1
    assert "row 58: bad.geom: invalid Polygon: Self-intersection at (0.5 0.5)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert query(engine, "SELECT to_regclass('bad')") == [(None,)]
    report = tmp_path / "rejects.ndjson"
    done = cli(db, str(files / "bad.geojson"), "--table", "bad", "--on-invalid", "skip",
               "--report", str(report))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "loaded 199 rows" in done.stderr and "1 skipped" in done.stderr
    (record,) = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    assert record["row"] == 58 and record["attributes"]["Name"] == "lot 57"
    assert shapely.from_wkb(bytes.fromhex(record["geometry"])).equals(
        shapely.geometry.shape({"type": "Polygon", "coordinates": BOWTIE})
    )


def test_a_layer_without_crs_needs_srid(db, engine, files):
    refused = cli(db, str(files / "noprj" / "lots.shp"), "--table", "noprj")
    assert refused.returncode == 2
    assert "has no CRS; pass --srid N" in refused.stderr
    report = load_file(engine, files / "noprj" / "lots.shp", "noprj", srid=2263)
    assert report.rows_loaded == N
    assert column_types(engine, "noprj")["geom"][0] == "geometry(Polygon,2263)"


def test_a_reader_failure_midway_rolls_everything_back(engine, files):
    with pytest.raises(ConfigError, match=r"truncated\.fgb .* failed"):
        load_file(
            engine, files / "truncated.fgb", "truncated", promote_to_multi=True, batch_rows=100
        )
    assert query(engine, "SELECT to_regclass('truncated')") == [(None,)]


def test_round_trip_load_export_load(db, engine, files, tmp_path):
    load_file(engine, files / "plain.geojson", "original")
    exported = tmp_path / "original.geojson"
    out = run_cli("export", "original", "--format", "geojson", "-o", str(exported),
                  env={"DATABASE_URL": db.url})  # fmt: skip
    assert out.returncode == 0, out.stderr
    done = cli(db, str(exported), "--table", "again")
    assert done.returncode == 0, done.stderr
    differ = query(
        engine,
        "SELECT count(*) FROM original a FULL JOIN again b USING (fid) WHERE a.fid IS NULL "
        "OR b.fid IS NULL OR NOT ST_Equals(a.geom, b.geom) OR NOT ST_OrderingEquals(a.geom, b.geom) "
        "OR (a.name, a.floors, a.big, a.area, a.active, a.built, a.seen) IS DISTINCT FROM "
        "(b.name, b.floors, b.big, b.area, b.active, b.built, b.seen)",
    )
    assert differ == [(0,)]


def test_null_geometries_keep_the_column_nullable_and_odd_targets_are_refused(
    engine, files, tmp_path
):
    features = [feature(i) for i in range(10)]
    features[3]["geometry"] = None
    path = write_geojson(tmp_path / "holes.geojson", features)
    report = load_file(engine, path, "holes")
    assert report.rows_loaded == 10
    assert column_types(engine, "holes")["geom"] == ("geometry(Polygon,4326)", False)
    assert query(engine, "SELECT count(*) FROM holes WHERE geom IS NULL") == [(1,)]
    with engine.begin() as conn:
        conn.execute(text("CREATE VIEW a_view AS SELECT 1 AS x"))
    with pytest.raises(ConfigError, match=r"public\.a_view is not a table"):
        load_file(engine, path, "a_view")
    with pytest.raises(
        SchemaError, match=r"cannot create table nowhere\.holes: schema \"nowhere\""
    ):
        load_file(engine, path, "holes", schema="nowhere")


def test_the_command_rebuilds_an_empty_tables_gist_index_unless_told_to_keep_it(db, engine, files):
    def gist_oid():
        return query(engine, "SELECT 'empty_lots_geom_idx'::regclass::oid::int")[0][0]

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE empty_lots (fid bigint GENERATED BY DEFAULT AS "
                          "IDENTITY PRIMARY KEY, name text, floors integer, big bigint, "
                          "area double precision, active boolean, built date, "
                          "seen timestamptz, geom geometry(Polygon, 4326))"))  # fmt: skip
        conn.execute(text("CREATE INDEX empty_lots_geom_idx ON empty_lots USING gist (geom)"))
    before = gist_oid()
    kept = cli(db, str(files / "plain.geojson"), "--table", "empty_lots", "--keep-indexes")
    assert kept.returncode == 0, kept.stderr
    assert "built after the rows" not in kept.stderr and gist_oid() == before
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE empty_lots"))
    rebuilt = cli(db, str(files / "plain.geojson"), "--table", "empty_lots")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "built after the rows: public.empty_lots_geom_idx" in " ".join(rebuilt.stderr.split())
    assert gist_oid() != before
    assert query(engine, "SELECT count(*) FROM empty_lots") == [(N,)]


LEAN_SCRIPT = """
import json, sys
from pgspatial.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    assert not done.code, done.code
print(json.dumps(sorted(m for m in ("sqlalchemy", "geoalchemy2") if m in sys.modules)))
"""


def test_the_command_appends_on_psycopg_alone_and_through_an_engine_for_pgbouncer(
    db, engine, files
):
    # A command's start-up is part of its cost (importing SQLAlchemy and GeoAlchemy2 took
    # longer than loading 100k polygons), so appending needs neither; PgBouncer mode, whose
    # settings go per transaction, loads through an engine.
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE lean_lots (fid bigint GENERATED BY DEFAULT AS "
                          "IDENTITY PRIMARY KEY, name text, floors integer, big bigint, "
                          "area double precision, active boolean, built date, "
                          "seen timestamptz, geom geometry(Polygon, 4326))"))  # fmt: skip
    path = str(files / "plain.geojson")
    runs = {}
    for mode in ("direct", "pgbouncer"):
        env = {k: v for k, v in os.environ.items() if k != "PGSPATIAL_PGBOUNCER"}
        env["DATABASE_URL"] = db.url
        if mode == "pgbouncer":
            env["PGSPATIAL_PGBOUNCER"] = "true"
        done = subprocess.run(
            [sys.executable, "-c", LEAN_SCRIPT, "load", path, "--table", "lean_lots"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[mode] = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert runs["direct"] == [] and "sqlalchemy" in runs["pgbouncer"]
    assert query(engine, "SELECT count(*), count(DISTINCT fid) FROM lean_lots") == [(2 * N, 2 * N)]
    name = query(engine, "SELECT name FROM lean_lots WHERE fid = 1")
    assert name == [("lot 0",)]


def test_load_file_on_a_psycopg_connection_commits_or_joins_the_callers_transaction(db, files):
    path = files / "plain.geojson"
    conninfo = libpq_conninfo(db.url)
    with psycopg.connect(conninfo) as conn:
        report = load_file(conn, path, "pg_lots")  # idle connection: its own transaction
        assert report.rows_loaded == N and report.created
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        conn.execute("SELECT 1")  # the caller's transaction is open: the load joins it
        load_file(conn, path, "pg_lots")
        assert conn.execute("SELECT count(*) FROM pg_lots").fetchone() == (2 * N,)
        conn.rollback()
    with psycopg.connect(conninfo) as other:
        assert other.execute("SELECT count(*) FROM pg_lots").fetchone() == (N,)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with pytest.raises(LoadRejected, match="expected a POLYGON but got a MULTIPOLYGON"):
            load_file(conn, files / "mixed.geojson", "pg_lots")
        assert conn.execute("SELECT count(*) FROM pg_lots").fetchone() == (N,)


def test_the_command_names_an_unreachable_server_without_its_password(tmp_path, files):
    url = "postgresql+psycopg://someone:s3cret@127.0.0.1:9/nowhere"
    done = run_cli("load", str(files / "plain.geojson"), "--table", "t", env={"DATABASE_URL": url})
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert "cannot connect to someone@127.0.0.1:9/nowhere" in message
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr


def test_a_new_table_whose_name_holds_a_percent_sign(db, files):
    # the load's own statements compose names instead of passing them through parameters
    conninfo = libpq_conninfo(db.url)
    with psycopg.connect(conninfo) as conn:
        report = load_file(conn, files / "plain.geojson", "lots 100%")
        assert report.rows_loaded == N and report.created and report.analyzed
    with psycopg.connect(conninfo) as conn:
        assert conn.execute('SELECT count(*), max(fid) FROM "lots 100%"').fetchone() == (N, N - 1)
        fid = conn.execute(
            'INSERT INTO "lots 100%" (geom) SELECT geom FROM "lots 100%" LIMIT 1 RETURNING fid'
        ).fetchone()
        assert fid == (N,)  # the identity continues after the loaded FIDs (0..N-1)
        conn.rollback()
