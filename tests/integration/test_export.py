"""GeoJSON/NDJSON/CSV made by the database: valid for GDAL, exact round trips, flat memory,
slow consumers, and clear errors."""

import os
import subprocess
import sys
import textwrap
import time

import orjson
import pytest
from sqlalchemy import func, select, text

from pgspatial.engine import create_async_engine, create_engine, session_factory
from pgspatial.errors import ConfigError
from pgspatial.predicates import in_bbox
from pgspatial.sampledata import load_sample_data
from pgspatial.sampledata.models import Parcel
from pgspatial.serialize import (
    feature_collection,
    feature_collection_async,
    feature_spec,
    stream_features,
)
from pgspatial.serialize.export import parse_bbox

from .conftest import run_cli

PARCELS = 2_000


@pytest.fixture(scope="module")
def db(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=PARCELS, seed=21)
        yield database
        engine.dispose()


@pytest.fixture
def engine(db):
    engine = create_engine(db.url)
    yield engine
    engine.dispose()


def test_feature_collection_is_rfc7946_with_ids_and_properties(engine):
    with session_factory(engine)() as session:
        body = feature_collection(
            session, select(Parcel).order_by(Parcel.id), id_column="id", bbox=True
        )
    doc = orjson.loads(body)
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == PARCELS
    first = doc["features"][0]
    assert first["id"] == 1
    assert set(first["properties"]) == {
        "parcel_id",
        "zoning_id",
        "land_use",
        "year_built",
        "assessed_value",
    }
    assert first["geometry"]["type"] == "Polygon"
    west, south, east, north = doc["bbox"]
    assert -74.03 < west < east < -73.5 and 40.69 < south < north < 41


def test_empty_and_single_results_are_valid_json(engine):
    with session_factory(engine)() as session:
        empty = orjson.loads(feature_collection(session, select(Parcel).where(Parcel.id < 0)))
        one = orjson.loads(feature_collection(session, select(Parcel).where(Parcel.id == 1)))
    assert empty == {"type": "FeatureCollection", "features": []}
    assert len(one["features"]) == 1


def _roundtrip_mismatches(engine, body, tolerance):
    features = orjson.loads(body)["features"]
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE back (id bigint, geom geometry)"))
        conn.execute(
            text("INSERT INTO back SELECT :id, ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)"),
            [{"id": f["id"], "g": orjson.dumps(f["geometry"]).decode()} for f in features],
        )
        if tolerance == 0:
            condition = "NOT ST_Equals(p.geom, b.geom) OR NOT ST_OrderingEquals(p.geom, b.geom)"
        else:
            condition = f"ST_HausdorffDistance(p.geom, b.geom) > {tolerance}"
        return conn.execute(
            text(f"SELECT count(*) FROM parcels p JOIN back b USING (id) WHERE {condition}")
        ).scalar()


def test_full_precision_round_trips_exactly(engine):
    with session_factory(engine)() as session:
        body = feature_collection(session, select(Parcel), id_column="id")
    assert _roundtrip_mismatches(engine, body, 0) == 0


def test_stated_precision_is_within_its_tolerance(engine):
    with session_factory(engine)() as session:
        body = feature_collection(session, select(Parcel), id_column="id", precision=5)
    assert _roundtrip_mismatches(engine, body, 0.5e-5 * 1.5) == 0
    assert b"." in body and not any(len(part) > 5 for part in _decimals(body))


def _decimals(body):
    import re

    return re.findall(rb"-?\d+\.(\d+)", body)


def test_gdal_reads_the_exports(db, tmp_path):
    env = {"DATABASE_URL": db.url}
    for fmt, name, prefix in (
        ("geojson", "p.geojson", ""),
        ("ndjson", "p.geojsonl", "GeoJSONSeq:"),
    ):
        target = tmp_path / name
        result = run_cli("export", "parcels", "--format", fmt, "-o", str(target), env=env)
        assert result.returncode == 0, result.stderr
        info = subprocess.run(
            ["ogrinfo", "-ro", "-so", "-al", prefix + str(target)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"Feature Count: {PARCELS}" in info.stdout, info.stdout
        for field in (
            "parcel_id: String",
            "land_use: String",
            "year_built: Integer",
            "assessed_value: Real",
        ):
            assert field in info.stdout, info.stdout
    csv = tmp_path / "p.csv"
    assert run_cli("export", "parcels", "--format", "csv", "-o", str(csv), env=env).returncode == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "id,parcel_id,zoning_id,land_use,year_built,assessed_value,wkt"
    assert len(lines) == PARCELS + 1
    assert not list(tmp_path.glob("*.partial"))


def test_cli_bbox_and_where(db, tmp_path):
    target = tmp_path / "some.geojson"
    result = run_cli(
        "export",
        "parcels",
        "--bbox=-74.03,40.69,-74.0,40.71",
        "--where",
        "land_use <> 'industrial'",
        "-o",
        str(target),
        env={"DATABASE_URL": db.url},
    )
    assert result.returncode == 0, result.stderr
    features = orjson.loads(target.read_bytes())["features"]
    assert features
    assert all(f["properties"]["land_use"] != "industrial" for f in features)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["parcels", "--bbox", "1,2,3"], "four numbers"),
        (["parcels", "--bbox=-73,41,-74,40"], "inverted"),
        (["parcels", "--bbox", "a,b,c,d"], "four numbers"),
        (["no_such_table"], "No spatial table 'no_such_table'"),
    ],
)
def test_cli_bad_input(db, args, message):
    result = run_cli("export", *args, env={"DATABASE_URL": db.url})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_api_bad_input(engine):
    with session_factory(engine)() as session:
        with pytest.raises(ConfigError, match="No column 'nope'"):
            feature_collection(session, select(Parcel), id_column="nope")
        with pytest.raises(ConfigError, match="No column 'colour'"):
            feature_collection(session, select(Parcel), properties=["colour"])
        with pytest.raises(ConfigError, match="geometry column"):
            feature_collection(session, select(Parcel.id))
        with pytest.raises(ConfigError, match="Unknown format"):
            list(stream_features(session, select(Parcel), output_format="kml"))
    with pytest.raises(ConfigError, match="xmin < xmax"):
        in_bbox(Parcel.geom, (1, 1, 0, 2))
    with pytest.raises(ConfigError, match=r"\(xmin, ymin, xmax, ymax\)"):
        in_bbox(Parcel.geom, (1, 2, 3))
    with pytest.raises(ConfigError, match="four numbers"):
        parse_bbox("1,2")


def test_a_slow_consumer_outlasts_the_timeouts(db):
    """~40 MB of features: far more than the socket buffers, so the server must wait for
    the reader (a small export would be fully buffered and finish before any timeout)."""
    engine = create_engine(db.url, statement_timeout_ms=300)
    copies = 60
    stmt = select(Parcel, func.generate_series(1, copies).label("copy_n"))
    started = time.monotonic()
    received = 0
    with session_factory(engine)() as session:
        for i, chunk in enumerate(stream_features(session, stmt, output_format="ndjson")):
            received += chunk.count(b"\n")
            if i < 8:
                time.sleep(0.15)
        session.commit()
        timeout = session.execute(text("SHOW statement_timeout")).scalar()
    assert time.monotonic() - started > 1.0, "the consumer must have been slower than the timeout"
    assert received == PARCELS * copies
    assert timeout == "300ms", "the lift lasts one transaction only"
    engine.dispose()


@pytest.mark.asyncio
async def test_async_output_is_identical(db, engine):
    with session_factory(engine)() as session:
        expected = feature_collection(
            session, select(Parcel).order_by(Parcel.id), id_column="id", precision=7
        )
    async_engine = create_async_engine(db.url)
    async with session_factory(async_engine)() as session:
        got = await feature_collection_async(
            session, select(Parcel).order_by(Parcel.id), id_column="id", precision=7
        )
    await async_engine.dispose()
    assert got == expected


MEMORY_PROBE = textwrap.dedent(
    """
    import resource, sys
    from sqlalchemy import select
    from pgspatial.engine import create_engine
    from pgspatial.sampledata.models import Parcel
    from pgspatial.serialize import stream_features
    engine = create_engine(sys.argv[1])
    stmt = select(Parcel).limit(int(sys.argv[2]))
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    features = 0
    with engine.begin() as conn:
        for chunk in stream_features(conn, stmt, output_format="geojson", id_column="id"):
            features += chunk.count(b'{"type":"Feature"')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(features, baseline, peak)
    """
)


@pytest.mark.slow
def test_memory_is_flat_in_the_row_count(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=1_000_000, seed=2)
        engine.dispose()
        peaks = {}
        for rows in (10_000, 1_000_000):
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, database.url, str(rows)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ},
            )
            features, _baseline, peak = (int(v) for v in out.stdout.split())
            assert features == rows
            peaks[rows] = peak  # KiB, measured after the imports and the first connection
    growth_mib = (peaks[1_000_000] - peaks[10_000]) / 1024
    assert growth_mib <= 30, f"peak RSS grew {growth_mib:.1f} MiB from 10k to 1M features"


ODD_NAMES = ["it's", "back\\slash", "100%", "{brace}", 'dq"', "naïve é"]


def test_any_column_name_becomes_its_property_key(engine):
    """Property names are written into the feature SQL: quotes, backslashes, percent
    signs, braces and non-ASCII must all come out as the column's own name; more than 50
    properties take the jsonb merge."""
    many = [f"c{i}" for i in range(60)]
    columns = ", ".join(
        "'" + n.replace("'", "''") + "' AS \"" + n.replace('"', '""') + '"' for n in ODD_NAMES
    )
    wide = ", ".join(f"{i} AS {name}" for i, name in enumerate(many))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW IF EXISTS odd_names")
        conn.exec_driver_sql(
            f"CREATE VIEW odd_names AS SELECT 7 AS id, {columns}, {wide}, "
            "ST_SetSRID(ST_MakePoint(1.5, 2.5), 4326)::geometry(Point, 4326) AS geom".replace(
                "%", "%%"
            )  # exec_driver_sql takes % as a placeholder
        )
        from sqlalchemy import MetaData, Table

        view = Table("odd_names", MetaData(), autoload_with=conn)
        doc = orjson.loads(feature_collection(conn, select(view), id_column="id"))
        lines = conn.execute(feature_spec(select(view), id_column="id").features_select())
        assert [orjson.loads(line) for line in lines.scalars()] == doc["features"]  # SELECT
    (feature,) = doc["features"]
    assert feature["id"] == 7
    assert feature["geometry"] == {"type": "Point", "coordinates": [1.5, 2.5]}
    properties = feature["properties"]
    assert {n: properties[n] for n in ODD_NAMES} == {n: n for n in ODD_NAMES}
    assert {n: properties[n] for n in many} == {n: i for i, n in enumerate(many)}
    assert len(properties) == len(ODD_NAMES) + len(many)
