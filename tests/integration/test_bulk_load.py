"""bulk_load against a real PostGIS: COPY BINARY, one transaction, exact reject reports,
skip/repair modes, SRID handling, SIGKILL atomicity and a load->export->load round trip."""

import os
import signal
import subprocess
import sys
import textwrap

import orjson
import pytest
import shapely
from geoalchemy2 import WKBElement
from sqlalchemy import BigInteger, Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgspatial.bulk import bulk_load
from pgspatial.columns import spatial_column
from pgspatial.engine import create_engine
from pgspatial.errors import ConfigError, LoadRejected
from pgspatial.serialize import feature_collection

BOWTIE = "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"
SPIKE = "POLYGON((-74 40.7, -73.99 40.7, -73.99 40.71, -73.995 40.71, -73.99 40.71, -74 40.71, -74 40.7))"


class Base(DeclarativeBase):
    pass


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    lot_name: Mapped[str] = mapped_column("name", String(40))
    floors: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326)


@pytest.fixture(scope="module")
def db(pgspatial_database_url):
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        yield database


@pytest.fixture(scope="module")
def engine(db):
    engine = create_engine(db.url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def lots(engine):
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE lots"))
    return Lot


def box(i, size=0.0001):
    x, y = -74.0 + (i % 1000) * 0.0002, 40.7 + (i // 1000) * 0.0002
    return shapely.box(round(x, 7), round(y, 7), round(x + size, 7), round(y + size, 7))


def rows(n, *, bad=None, start=0):
    for i in range(start, start + n):
        geom = shapely.from_wkt(bad[i]) if bad and i in bad else box(i)
        yield {"id": i, "name": f"lot {i}", "floors": i % 7, "geom": geom}


def count(engine, table="lots"):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_loads_every_input_kind_in_one_copy_and_analyzes(engine, lots):
    kinds = [
        lambda g: g,
        shapely.to_wkb,
        lambda g: shapely.to_wkb(shapely.set_srid(g, 4326), include_srid=True),
        lambda g: shapely.to_wkt(g, rounding_precision=-1),
        lambda g: "SRID=4326;" + shapely.to_wkt(g, rounding_precision=-1),
        lambda g: orjson.loads(shapely.to_geojson(g)),
        lambda g: WKBElement(shapely.to_wkb(g), srid=4326),
    ]
    # keyed by the mapped class's attribute names (lot_name is the column "name")
    data = (
        {"id": r["id"], "lot_name": r["name"], "floors": r["floors"],
         "geom": kinds[r["id"] % len(kinds)](r["geom"])}
        for r in rows(7_000)
    )  # fmt: skip
    seen = []
    report = bulk_load(engine, Lot, data, batch_rows=1_000, progress=seen.append)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (7_000, 7_000, 0)
    assert report.analyzed and report.table == "public.lots" and report.rows_per_s > 0
    assert seen == list(range(1_000, 7_001, 1_000))
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'lots'")).scalar()
            == 7_000
        )
        mismatches = conn.execute(
            text(
                "SELECT count(*) FROM lots WHERE NOT ST_Equals(geom, ST_MakeEnvelope("
                "round((-74.0 + (id % 1000) * 0.0002)::numeric, 7), round((40.7 + (id / 1000) * 0.0002)::numeric, 7), "
                "round((-74.0 + (id % 1000) * 0.0002 + 0.0001)::numeric, 7), round((40.7 + (id / 1000) * 0.0002 + 0.0001)::numeric, 7), 4326))"
            )
        ).scalar()
        assert mismatches == 0
        assert conn.execute(text("SELECT name, floors FROM lots WHERE id = 8")).one() == (
            "lot 8",
            1,
        )


def test_one_bowtie_in_reject_mode_stores_nothing_and_names_the_row(engine, lots):
    with pytest.raises(LoadRejected) as caught:
        bulk_load(engine, "lots", rows(10_000, bad={4320: BOWTIE}), batch_rows=3_000)
    report = caught.value.report
    assert (report.rows_read, report.rows_rejected, report.rows_loaded) == (10_000, 1, 0)
    assert report.rejects[0].row == 4321 and report.rejects[0].column == "geom"
    assert "Self-intersection at (0.5 0.5)" in report.rejects[0].reason
    assert "row 4321: lots.geom: invalid Polygon: Self-intersection" in str(caught.value)
    assert count(engine) == 0


def test_skip_stores_the_good_rows_and_writes_the_rejects(engine, lots, tmp_path):
    path = tmp_path / "rejects.ndjson"
    report = bulk_load(
        engine, "public.lots", rows(10_000, bad={4320: BOWTIE}), on_invalid="skip", report_path=path
    )
    assert (report.rows_loaded, report.rows_rejected, report.report_path) == (9_999, 1, path)
    assert count(engine) == 9_999
    (line,) = path.read_bytes().splitlines()
    record = orjson.loads(line)
    assert record["row"] == 4321 and record["column"] == "geom"
    assert record["attributes"] == {"id": 4320, "name": "lot 4320", "floors": 4320 % 7}
    assert "Self-intersection" in record["reason"]
    assert shapely.equals(shapely.from_wkt(record["geometry"]), shapely.from_wkt(BOWTIE))
    assert not list(tmp_path.glob("*.partial"))


def test_skip_without_a_path_writes_a_temp_report(engine, lots):
    report = bulk_load(engine, Lot, rows(50, bad={7: BOWTIE}), on_invalid="skip")
    try:
        assert report.report_path is not None and report.report_path.exists()
        assert orjson.loads(report.report_path.read_bytes())["row"] == 8
    finally:
        report.report_path.unlink()


def test_repair_reports_a_bowtie_that_would_change_type(engine, lots):
    with pytest.raises(LoadRejected) as caught:
        bulk_load(engine, Lot, rows(100, bad={10: BOWTIE}), on_invalid="repair")
    (reject,) = caught.value.report.rejects
    assert reject.row == 11
    assert "turns it into a MultiPolygon, which a POLYGON target does not accept" in reject.reason
    assert count(engine) == 0


def test_repair_loads_a_fixable_geometry_and_counts_it(engine, lots):
    report = bulk_load(engine, Lot, rows(100, bad={10: SPIKE}), on_invalid="repair")
    assert (report.rows_loaded, report.rows_repaired, report.rows_rejected) == (100, 1, 0)
    with engine.connect() as conn:
        stored = shapely.from_wkb(
            conn.execute(text("SELECT ST_AsBinary(geom) FROM lots WHERE id = 10")).scalar()
        )
    assert stored.is_valid and stored.geom_type == "Polygon"
    assert shapely.equals(stored, shapely.make_valid(shapely.from_wkt(SPIKE)))


def test_srid_mismatch_is_rejected_unless_transformed(engine, lots):
    def projected():
        for row in rows(200):
            g = shapely.set_srid(shapely.transform(row["geom"], _to_3857), 3857)
            yield {**row, "geom": g}

    with pytest.raises(LoadRejected) as caught:
        bulk_load(engine, Lot, projected())
    assert caught.value.report.rows_rejected == 200
    assert (
        "has SRID 3857 but the target requires SRID 4326" in caught.value.report.rejects[0].reason
    )
    report = bulk_load(engine, Lot, projected(), transform=True)
    assert report.rows_loaded == 200
    with engine.connect() as conn:
        worst = conn.execute(
            text(
                "SELECT max(ST_HausdorffDistance(geom, ST_MakeEnvelope("
                "round((-74.0 + (id % 1000) * 0.0002)::numeric, 7), 40.7, "
                "round((-74.0 + (id % 1000) * 0.0002 + 0.0001)::numeric, 7), 40.7001, 4326))) FROM lots"
            )
        ).scalar()
    assert worst < 1e-9


def _to_3857(coords):
    from pyproj import Transformer

    forward = Transformer.from_crs(4326, 3857, always_xy=True)
    x, y = forward.transform(coords[:, 0], coords[:, 1])
    return shapely.get_coordinates(shapely.points(x, y))


def test_database_refusals_name_the_input_row_after_skipped_ones(engine, lots):
    bulk_load(engine, Lot, rows(5, start=100))
    data = list(rows(20, bad={3: BOWTIE}))
    data[12]["id"] = 102  # already in the table
    with pytest.raises(LoadRejected) as caught:
        bulk_load(engine, Lot, data, on_invalid="skip")
    assert "row 13: the database refused the row: duplicate key value" in str(caught.value)
    assert count(engine) == 5
    report = caught.value.report
    assert [r.row for r in report.rejects] == [4, 13]  # both are in the report file
    assert len(report.report_path.read_bytes().splitlines()) == 2
    report.report_path.unlink()


def test_out_of_range_integers_are_rejected_not_wrapped(engine, lots):
    data = list(rows(10))
    data[4]["floors"] = 2**40 + 5
    report = bulk_load(engine, Lot, data, on_invalid="skip")
    assert report.rows_loaded == 9
    assert "floors: 1099511627781 is out of range for integer" in report.rejects[0].reason
    report.report_path.unlink()
    data[4]["floors"] = "five"
    with pytest.raises(LoadRejected, match=r"row 5: floors \(integer\) cannot take 'five'"):
        bulk_load(engine, Lot, data)


def test_rows_must_match_the_table(engine, lots):
    with pytest.raises(ConfigError, match="has no column 'colour'"):
        bulk_load(engine, Lot, [{"id": 1, "geom": box(1), "colour": "red"}])
    with pytest.raises(ConfigError, match="lack geom, which is NOT NULL"):
        bulk_load(engine, Lot, [{"id": 1, "name": "x"}])
    with pytest.raises(ConfigError, match="row 2 has different keys"):
        bulk_load(
            engine,
            "lots",
            [{"id": 1, "name": "a", "geom": box(1)}, {"id": 2, "name": "b", "geometry": box(2)}],
        )
    with pytest.raises(ConfigError, match="no table 'nope'"):
        bulk_load(engine, "nope", [{"id": 1}])
    with pytest.raises(ConfigError, match="on_invalid='drop' is not a mode"):
        bulk_load(engine, Lot, [], on_invalid="drop")
    assert count(engine) == 0


def test_z_geometries_for_a_2d_column_are_rejected_per_row(engine, lots):
    data = list(rows(5))
    data[2]["geom"] = shapely.force_3d(data[2]["geom"], 5.0)
    report = bulk_load(engine, Lot, data, on_invalid="skip")
    assert report.rows_loaded == 4
    assert "has Z coordinates but the column takes 2-D" in report.rejects[0].reason
    report.report_path.unlink()


def test_inside_a_callers_transaction_it_is_a_savepoint(engine, lots):
    with engine.connect() as conn:
        conn.begin()
        conn.execute(
            text(
                "INSERT INTO lots (id, name, geom) VALUES (-1, 'kept', ST_MakeEnvelope(0, 0, 1, 1, 4326))"
            )
        )
        with pytest.raises(LoadRejected):
            bulk_load(conn, Lot, rows(10, bad={5: BOWTIE}))
        bulk_load(conn, Lot, rows(10))
        assert conn.execute(text("SELECT count(*) FROM lots")).scalar() == 11
        conn.rollback()
    assert count(engine) == 0


def test_a_load_killed_midway_leaves_the_table_exactly_as_before(engine, lots, db):
    bulk_load(engine, Lot, rows(100, start=10_000_000))
    checksum = "SELECT count(*), md5(string_agg(id::text || name || ST_AsEWKB(geom)::text, ',' ORDER BY id)) FROM lots"
    with engine.connect() as conn:
        before = conn.execute(text(checksum)).one()
    script = textwrap.dedent(
        f"""
        import shapely, sys
        from pgspatial.bulk import bulk_load
        from pgspatial.engine import create_engine

        def rows():
            for i in range(300_000):
                x = -74 + (i % 1000) * 1e-4
                yield {{"id": i, "name": "x", "floors": 1, "geom": shapely.box(x, 40, x + 1e-5, 40 + 1e-5)}}

        def progress(done):
            print("progress", done, flush=True)

        bulk_load(create_engine({db.url!r}), "lots", rows(), progress=progress)
        print("committed", flush=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        first = child.stdout.readline()
        assert first.startswith("progress"), first
        second = child.stdout.readline()  # the COPY is under way: kill it mid-stream
        assert second.startswith("progress"), second
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    with engine.connect() as conn:
        assert conn.execute(text(checksum)).one() == before


def test_round_trip_load_export_load_is_exact(engine, lots):
    bulk_load(engine, Lot, rows(2_000, start=500))
    with engine.connect() as conn:
        body = feature_collection(conn, select(Lot.__table__), id_column="id")
        conn.execute(text("CREATE TABLE lots_again (LIKE lots INCLUDING ALL)"))
        conn.commit()
    features = orjson.loads(body)["features"]
    again = ({"id": f["id"], **f["properties"], "geom": f["geometry"]} for f in features)
    report = bulk_load(engine, "lots_again", again)
    assert report.rows_loaded == 2_000
    with engine.connect() as conn:
        differ = conn.execute(
            text(
                "SELECT count(*) FROM lots a FULL JOIN lots_again b USING (id) WHERE b.id IS NULL "
                "OR a.id IS NULL OR NOT ST_Equals(a.geom, b.geom) OR NOT ST_OrderingEquals(a.geom, b.geom) "
                "OR a.name IS DISTINCT FROM b.name OR a.floors IS DISTINCT FROM b.floors"
            )
        ).scalar()
        conn.execute(text("DROP TABLE lots_again"))
        conn.commit()
    assert differ == 0


def test_geography_z_columns_schemas_and_empty_input(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS field"))
        conn.execute(
            text(
                "CREATE TABLE field.sites (id int PRIMARY KEY, here geography(Point, 4326) NOT NULL, "
                "survey geometry(PointZ, 2263))"
            )
        )
    data = [
        {"id": 1, "here": "POINT(-73.98 40.75)", "survey": shapely.Point(987000, 212000, 33.5)},
        {"id": 2, "here": {"type": "Point", "coordinates": [-73.9, 40.8]}, "survey": None},
        {"id": 3, "here": shapely.Point(-73.9, 40.8), "survey": shapely.Point(987000, 212000)},
    ]
    report = bulk_load(engine, "field.sites", data, on_invalid="skip")
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    assert (
        "sites.survey: the geometry has 2-D (XY) coordinates but the column takes Z"
        in report.rejects[0].reason
    )
    report.report_path.unlink()
    rows = query_all(
        engine, "SELECT id, ST_AsEWKT(here), ST_AsEWKT(survey) FROM field.sites ORDER BY id"
    )
    assert rows == [
        (1, "SRID=4326;POINT(-73.98 40.75)", "SRID=2263;POINT(987000 212000 33.5)"),
        (2, "SRID=4326;POINT(-73.9 40.8)", None),
    ]
    empty = bulk_load(engine, "field.sites", [])
    assert (empty.rows_read, empty.rows_loaded, empty.analyzed, empty.table) == (
        0,
        0,
        False,
        "field.sites",
    )


def query_all(engine, sql):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]
