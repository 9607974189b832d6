"""explain / explain_async, the pgspatial explain command and the test assertions, on PostGIS.

A 20,000-point table with a GiST index and a geography expression index is enough for the
planner to prefer an index for a small box; it is created inside each test's rolled-back
transaction (or committed in a fresh database for the command-line tests).
"""

from __future__ import annotations

import json

import pytest
import shapely
from geoalchemy2 import Geography, Geometry, WKBElement
from sqlalchemy import Column, Integer, MetaData, Table, cast, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from pgspatial.catalog import Catalog
from pgspatial.columns import geography_of
from pgspatial.errors import ConfigError
from pgspatial.geometry import parse_geometry
from pgspatial.plans import explain, explain_async, lint
from pgspatial.testing import assert_geometry_equal, assert_index_scan, count_statements

from .conftest import run_cli

LOAD = [
    "CREATE TABLE explain_points (id integer PRIMARY KEY, v integer NOT NULL, "
    "geom geometry(Point, 4326) NOT NULL)",
    "INSERT INTO explain_points SELECT i, i, ST_SetSRID(ST_MakePoint(-74.05 + mod(i, 200) "
    "* 0.001, 40.60 + (i / 200) * 0.002), 4326) FROM generate_series(1, 20000) AS i",
    "CREATE INDEX ix_explain_points_geom ON explain_points USING gist (geom)",
    "CREATE INDEX ix_explain_points_geom_geography ON explain_points "
    "USING gist ((geom::geography))",
    "ANALYZE explain_points",
]
BBOX = (
    "SELECT id FROM explain_points WHERE geom && ST_MakeEnvelope(-74.0, 40.65, -73.99, 40.66, 4326)"
)
FULL_SCAN = "SELECT count(*) FROM explain_points"
POINTS = Table(
    "explain_points",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("v", Integer),
    Column("geom", Geometry("POINT", srid=4326, spatial_index=False)),
)
CENTRE = func.ST_SetSRID(func.ST_MakePoint(-73.98, 40.70), 4326)


def load_points(connection):
    for statement in LOAD:
        connection.execute(text(statement))


@pytest.fixture
def points(pgspatial_connection):
    load_points(pgspatial_connection)
    return pgspatial_connection


def state(connection):
    return connection.execute(
        text("SELECT count(*) FILTER (WHERE v < 0), sum(v), count(*) FROM explain_points")
    ).one()


# --- explain ----------------------------------------------------------------------------------


def test_a_small_box_uses_the_gist_index_by_name(points):
    plan = explain(points, BBOX)
    assert plan.uses_index("ix_explain_points_geom")
    assert plan.seq_scans() == []
    assert plan.verdict().startswith("uses index ix_explain_points_geom (")
    assert plan.verdict().endswith("on explain_points; no sequential scans")


def test_bound_geometries_are_planned_through_the_real_bind_path(points):
    wkt = "POLYGON((-74 40.65,-73.99 40.65,-73.99 40.66,-74 40.66,-74 40.65))"
    box = parse_geometry(wkt, srid=4326)
    stmt = select(POINTS.c.id).where(func.ST_Intersects(POINTS.c.geom, box))
    with count_statements(points) as counter:
        plan = explain(points, stmt)
    assert plan.uses_index("ix_explain_points_geom")
    assert counter.statements[0].startswith("EXPLAIN (FORMAT JSON) SELECT explain_points.id")
    assert "ST_GeomFromEWKB(%(" in counter.statements[0]  # a server-side parameter
    assert explain(points, "SELECT id FROM explain_points WHERE id = :id", params={"id": 7})


def test_a_full_scan_reports_the_table_and_its_size(points):
    plan = explain(points, FULL_SCAN)
    assert not plan.uses_index()
    (scan,) = plan.seq_scans()
    assert scan.relation == "explain_points"
    assert scan.relation_rows == 20_000
    assert plan.verdict().startswith("SEQ SCAN on explain_points (20,000 rows estimated)")
    assert not plan.acceptable()


def test_lint_and_planner_agree_on_geography_casts(points):
    """errata 1 and 16: geography_of matches the expression index, a typmod cast does not."""
    catalog = Catalog.load(points)
    near = func.ST_DWithin(geography_of(POINTS.c.geom), geography_of(CENTRE), 500)
    good = select(POINTS.c.id).where(near)
    assert explain(points, good).uses_index("ix_explain_points_geom_geography")
    assert lint(good, catalog=catalog) == []

    typmod = select(POINTS.c.id).where(
        func.ST_DWithin(cast(POINTS.c.geom, Geography(srid=4326)), geography_of(CENTRE), 500)
    )
    plan = explain(points, typmod)
    assert not plan.uses_index()
    assert [s.relation for s in plan.seq_scans()] == ["explain_points"]
    (finding,) = lint(typmod, catalog=catalog)
    assert finding.code == "FUNCTION_ON_INDEXED_COLUMN"
    assert "ix_explain_points_geom_geography" in finding.message

    two_step = select(POINTS.c.id).where(
        POINTS.c.geom.op("&&")(func.ST_Expand(CENTRE, 0.0066, 0.0045)),
        func.ST_DWithin(cast(POINTS.c.geom, Geography(srid=4326)), geography_of(CENTRE), 500),
    )
    assert explain(points, two_step).uses_index("ix_explain_points_geom")
    assert lint(two_step, catalog=catalog) == []


def test_analyze_and_buffers_fields_are_filled(points):
    plan = explain(points, BBOX, analyze=True)
    assert plan.analyzed
    assert plan.execution_time_ms is not None and plan.execution_time_ms > 0
    assert plan.planning_time_ms is not None
    scan = plan.index_scans()[0]
    assert scan.actual_rows is not None and scan.actual_loops == 1
    assert plan.root.shared_hit_blocks is not None
    assert "Execution Time" in plan.to_text()
    assert explain(points, BBOX, analyze=True, buffers=False).root.shared_hit_blocks is None


def test_analyze_of_dml_changes_nothing(points):
    before = state(points)
    stmt = update(POINTS).where(POINTS.c.id < 100).values(v=-1)
    with count_statements(points) as counter:
        plan = explain(points, stmt, analyze=True)
    assert plan.root.details["Operation"] == "Update"
    assert plan.uses_index(f"{POINTS.name}_pkey")
    assert any(s.startswith("SAVEPOINT") for s in counter.statements)
    assert any(s.startswith("ROLLBACK TO SAVEPOINT") for s in counter.statements)
    explain(points, "DELETE FROM explain_points WHERE id < 500", analyze=True)
    explain(
        points,
        "WITH gone AS (DELETE FROM explain_points RETURNING id) SELECT count(*) FROM gone",
        analyze=True,
    )
    assert state(points) == before


def test_a_plain_read_needs_no_savepoint(points):
    with count_statements(points) as counter:
        explain(points, BBOX, analyze=True)
    assert not any("SAVEPOINT" in s for s in counter.statements)


def test_analyze_of_dml_refuses_an_autocommit_connection(pgspatial_engine):
    with pgspatial_engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(ConfigError, match="AUTOCOMMIT"):
            explain(connection, "DELETE FROM pg_class WHERE false", analyze=True)
        assert explain(connection, "SELECT 1", analyze=True).analyzed


def test_sessions_and_engines_are_binds_too(points, pgspatial_session, pgspatial_engine):
    stmt = select(POINTS.c.id).where(POINTS.c.geom.op("&&")(func.ST_Expand(CENTRE, 0.002)))
    assert explain(pgspatial_session, stmt).uses_index("ix_explain_points_geom")
    plan = explain(pgspatial_engine, "SELECT relname FROM pg_class WHERE oid = 1259")
    assert plan.uses_index("pg_class_oid_index")


def test_planner_settings_apply_to_one_statement_only(points):
    no_index = {"enable_indexscan": False, "enable_bitmapscan": False}
    plan = explain(points, "SELECT id FROM explain_points WHERE id = 5", settings=no_index)
    assert not plan.uses_index()
    assert points.execute(text("SHOW enable_indexscan")).scalar() == "on"
    with pytest.raises(ConfigError, match="setting name"):
        explain(points, "SELECT 1", settings={"enable_seqscan; DROP TABLE x": "off"})


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (CreateTable(POINTS), "DDL"),
        ("CREATE TABLE nope (a int)", "cannot EXPLAIN a CreateStmt"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("EXPLAIN SELECT 1", "without EXPLAIN"),
        (POINTS.c.id, "SQLAlchemy statement"),
    ],
)
def test_statements_explain_cannot_take_are_config_errors(pgspatial_connection, statement, message):
    with pytest.raises(ConfigError, match=message):
        explain(pgspatial_connection, statement)


def test_sql_errors_surface_from_the_driver(pgspatial_connection):
    with pytest.raises(DBAPIError, match="no_such_table"):
        explain(pgspatial_connection, "SELECT * FROM no_such_table")


async def test_explain_async_on_connections_sessions_and_engines(
    pgspatial_async_connection, pgspatial_async_engine
):
    connection = pgspatial_async_connection
    await connection.run_sync(load_points)
    plan = await explain_async(connection, BBOX)
    assert plan.uses_index("ix_explain_points_geom")
    session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
    before = await connection.run_sync(state)
    plan = await explain_async(
        session, update(POINTS).where(POINTS.c.id < 10).values(v=-1), analyze=True
    )
    assert plan.analyzed
    assert await connection.run_sync(state) == before
    await session.close()
    plan = await explain_async(pgspatial_async_engine, "SELECT 1 FROM pg_class WHERE oid = 1259")
    assert plan.uses_index("pg_class_oid_index")


# --- pgspatial explain -------------------------------------------------------------------------


def test_the_explain_command(pgspatial_fresh_database, tmp_path):
    with pgspatial_fresh_database.engine.begin() as connection:
        load_points(connection)
    env = {"DATABASE_URL": pgspatial_fresh_database.url}

    done = run_cli("explain", BBOX, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True
    assert document["uses_index"] is True
    assert document["index_names"] == ["ix_explain_points_geom"]
    assert document["seq_scans"] == []
    assert document["lint"] == []
    assert document["verdict"].startswith("uses index ix_explain_points_geom")
    assert document["plan"]["Plan"]["Node Type"]

    script = tmp_path / "full_scan.sql"
    script.write_text(f"{FULL_SCAN};\n", encoding="utf-8")
    done = run_cli("explain", "--file", str(script), "--format", "json", env=env)
    assert done.returncode == 1, done.stderr
    (scan,) = json.loads(done.stdout)["seq_scans"]
    assert scan["relation"] == "explain_points"
    assert scan["estimated_table_rows"] == 20_000

    typmod = (
        "SELECT id FROM explain_points WHERE ST_DWithin(CAST(geom AS geography(GEOMETRY,4326)),"
        " 'SRID=4326;POINT(-73.98 40.70)'::geography, 500)"
    )
    done = run_cli("explain", typmod, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("SEQ SCAN on explain_points (20,000 rows estimated)")
    assert "FUNCTION_ON_INDEXED_COLUMN" in done.stdout
    assert "ix_explain_points_geom_geography" in done.stdout  # the catalog of the live database
    assert (
        "NOT OK (exit 1): no index is used; a sequential scan reads explain_points" in done.stdout
    )

    update_sql = "UPDATE explain_points SET v = -1 WHERE id < 50"
    done = run_cli("explain", "--analyze", "--format", "json", update_sql, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["analyzed"] is True
    with pgspatial_fresh_database.engine.connect() as connection:
        assert state(connection) == (0, 20000 * 20001 // 2, 20_000)

    done = run_cli("explain", env=env)
    assert done.returncode == 2
    assert "--file" in done.stderr


# --- assert_index_scan ---------------------------------------------------------------------------


def test_assert_index_scan_passes_and_returns_the_plan(points):
    plan = assert_index_scan(points, BBOX, "ix_explain_points_geom")
    assert plan.uses_index("ix_explain_points_geom")
    assert_index_scan(points, BBOX)


def test_assert_index_scan_fails_with_the_verdict_and_the_tree(points):
    with pytest.raises(AssertionError) as failure:
        assert_index_scan(points, FULL_SCAN)
    message = str(failure.value)
    assert "expected the plan to use an index: SEQ SCAN on explain_points" in message
    assert "Seq Scan on explain_points" in message  # the tree
    with pytest.raises(AssertionError, match=r"the index ix_nope \(it uses ix_explain_points_geom"):
        assert_index_scan(points, BBOX, "ix_nope")


def test_assert_index_scan_on_a_tiny_table_needs_the_explicit_opt_in(pgspatial_connection):
    connection = pgspatial_connection
    for statement in (
        "CREATE TABLE tiny_sites (id integer PRIMARY KEY, geom geometry(Point, 4326))",
        "INSERT INTO tiny_sites SELECT i, ST_SetSRID(ST_MakePoint(i, i), 4326) "
        "FROM generate_series(1, 10) AS i",
        "CREATE INDEX ix_tiny_sites_geom ON tiny_sites USING gist (geom)",
        "ANALYZE tiny_sites",
    ):
        connection.execute(text(statement))
    query = "SELECT id FROM tiny_sites WHERE geom && ST_MakeEnvelope(2, 2, 3, 3, 4326)"
    with pytest.raises(AssertionError, match="disable_seqscan=True"):
        assert_index_scan(connection, query, "ix_tiny_sites_geom")
    assert_index_scan(connection, query, "ix_tiny_sites_geom", disable_seqscan=True)
    assert connection.execute(text("SHOW enable_seqscan")).scalar() == "on"
    assert connection.execute(text("SELECT count(*) FROM tiny_sites")).scalar() == 10


# --- assert_geometry_equal -----------------------------------------------------------------------

SQUARE = "POLYGON((0 0,1 0,1 1,0 1,0 0))"


def test_geometry_equality_ignores_ring_start_orientation_and_representation():
    assert_geometry_equal(SQUARE, "POLYGON((1 1,0 1,0 0,1 0,1 1))")
    assert_geometry_equal(SQUARE, "POLYGON((0 0,0 1,1 1,1 0,0 0))")
    geojson = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    assert_geometry_equal(geojson, shapely.from_wkt(SQUARE))
    assert_geometry_equal(parse_geometry(SQUARE, srid=4326), f"SRID=4326;{SQUARE}")
    assert_geometry_equal("POLYGON((0 0,1 1,1 0,0 1,0 0))", "POLYGON((0 0,1 1,1 0,0 1,0 0))")


def test_geometry_equality_with_a_tolerance_and_the_failure_message():
    shifted = "POLYGON((0 0,1 0,1 1.000001,0 1,0 0))"
    assert_geometry_equal(SQUARE, shifted, tolerance=1e-5)
    with pytest.raises(AssertionError) as failure:
        assert_geometry_equal(SQUARE, shifted)
    message = str(failure.value)
    assert "Hausdorff distance 1e-06" in message
    assert "actual:   POLYGON ((0 0, 0 1, 1 1, 1 0, 0 0))" in message
    assert "expected: POLYGON ((0 0, 0 1, 1 1.000001, 1 0, 0 0))" in message
    ring = ", ".join(f"{i} 0" for i in range(200))
    with pytest.raises(AssertionError, match="…"):
        assert_geometry_equal(f"LINESTRING({ring})", "LINESTRING(0 0, 1 1)")


def test_geometry_srids_are_compared_when_both_are_known():
    with pytest.raises(AssertionError, match="different SRIDs: actual 4326, expected 3857"):
        assert_geometry_equal("SRID=4326;POINT(1 2)", "SRID=3857;POINT(1 2)")
    assert_geometry_equal("SRID=3857;POINT(1 2)", "POINT(1 2)")
    with pytest.raises(AssertionError, match="expected is not a geometry"):
        assert_geometry_equal("POINT(1 2)", 42)


def test_geometry_equality_with_values_read_from_postgis(points):
    value = points.execute(select(POINTS.c.geom).where(POINTS.c.id == 1)).scalar_one()
    assert isinstance(value, WKBElement)
    assert_geometry_equal(value, "SRID=4326;POINT(-74.049 40.6)", tolerance=1e-9)
