"""Alembic: init, autogenerate, upgrade/downgrade, and the online spatial ops, on real PostGIS."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from pyproj import Transformer
from sqlalchemy import inspect, text

from pgspatial.errors import ConfigError, SchemaError
from pgspatial.migrations import (
    add_check_constraint_online,
    change_geometry_type,
    change_srid,
    create_spatial_index_concurrently,
    drop_spatial_index_concurrently,
    include_object,
    init_migrations,
    render_item,
)

from . import migration_models

METADATA_REF = "tests.integration.migration_models:Base.metadata"


@pytest.fixture
def alembic_config(tmp_path, pgspatial_fresh_database):
    ini = init_migrations(tmp_path / "migrations", metadata=METADATA_REF)
    config = Config(str(ini))
    config.set_main_option("sqlalchemy.url", pgspatial_fresh_database.url)
    return config


def _diff(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": include_object,
                "render_item": render_item,
                "compare_type": True,
            },
        )
        return compare_metadata(context, migration_models.Base.metadata)


def _gist_indexes(engine):
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%USING gist%'"
                )
            ).scalars()
        )


def test_autogenerate_upgrade_downgrade_round_trip(alembic_config, pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    command.upgrade(alembic_config, "head")  # 0001: postgis
    command.revision(alembic_config, message="models", autogenerate=True, rev_id="0002_models")
    script = next(_versions(alembic_config).glob("0002*.py"))
    body = script.read_text()
    assert "import pgspatial.types" in body
    assert "pgspatial.types.SpatialGeometry(geometry_type='POLYGON', srid=4326" in body
    assert "spatial_ref_sys" not in body

    command.upgrade(alembic_config, "head")
    assert _gist_indexes(engine) == [
        "ix_districts_geom",
        "ix_lots_geom",
        "ix_lots_geom_geography",
        "ix_routes_local",
        "ix_routes_path",
    ]
    assert _diff(engine) == [], "autogenerate on unchanged models must be empty"

    command.downgrade(alembic_config, "base")
    remaining = set(inspect(engine).get_table_names())
    assert not remaining & {"districts", "lots", "routes"}
    command.upgrade(alembic_config, "head")
    assert "lots" in inspect(engine).get_table_names()


def _versions(config):
    from pathlib import Path

    return Path(config.get_main_option("script_location")) / "versions"


def test_first_revision_creates_postgis(tmp_path, pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    with engine.begin() as conn:
        conn.execute(text("DROP EXTENSION postgis CASCADE"))
    ini = init_migrations(tmp_path / "m", metadata=METADATA_REF)
    config = Config(str(ini))
    config.set_main_option("sqlalchemy.url", pgspatial_fresh_database.url)
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        ).scalar()


def test_init_refuses_to_overwrite_and_bad_refs(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(ConfigError, match="not empty"):
        init_migrations(tmp_path / "full", metadata=METADATA_REF)
    with pytest.raises(ConfigError, match=r"package\.module:Base"):
        init_migrations(tmp_path / "new", metadata="no_colon")


class Migration:
    """Runs ops the way Alembic runs a migration: inside its transaction, op proxy bound."""

    def __init__(self, conn):
        self.conn = conn
        self.context = MigrationContext.configure(conn, opts={"transaction_per_migration": True})

    def __call__(self, op_function, *args, **kwargs):
        with Operations.context(self.context), self.context.begin_transaction(_per_migration=True):
            return op_function(*args, **kwargs)


@pytest.fixture
def ops(pgspatial_fresh_database):
    with pgspatial_fresh_database.engine.connect() as conn:
        yield conn


@pytest.fixture
def migrate(ops):
    return Migration(ops)


def _run(conn, sql, **params):
    result = conn.execute(text(sql), params)
    conn.commit()
    return result


def test_concurrent_index_is_valid_and_idempotent(ops, migrate):
    _run(
        ops,
        "CREATE TABLE pts AS SELECT g AS id, ST_Point(g * 0.001, 40, 4326) AS geom FROM generate_series(1, 2000) g",
    )
    assert migrate(create_spatial_index_concurrently, "pts", "geom") == "ix_pts_geom"
    assert (
        migrate(create_spatial_index_concurrently, "pts", "geom", geodesic=True)
        == "ix_pts_geom_geography"
    )
    assert migrate(create_spatial_index_concurrently, "pts", "geom") == "ix_pts_geom"  # idempotent
    rows = _run(
        ops,
        "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'pts'::regclass ORDER BY 1",
    ).all()
    assert [(r[0], r[1]) for r in rows] == [("ix_pts_geom", True), ("ix_pts_geom_geography", True)]
    assert rows[1][2].endswith("USING gist (((geom)::geography))")
    migrate(drop_spatial_index_concurrently, "ix_pts_geom_geography")
    assert _run(ops, "SELECT count(*) FROM pg_indexes WHERE tablename = 'pts'").scalar() == 1


def test_an_invalid_index_is_reported_clearly(ops, migrate):
    _run(
        ops,
        "CREATE TABLE big AS SELECT g AS id, ST_Buffer(ST_Point(g * 0.0001, 40, 4326), 0.001, 32) AS geom FROM generate_series(1, 60000) g",
    )
    _run(ops, "SET statement_timeout = 50")
    with pytest.raises(SchemaError, match=r"ix_big_geom .* INVALID") as caught:
        migrate(create_spatial_index_concurrently, "big", "geom")
    assert "DROP INDEX CONCURRENTLY ix_big_geom" in str(caught.value)
    _run(ops, "RESET statement_timeout")
    # A rerun does not silently accept the leftover invalid index (IF NOT EXISTS would).
    with pytest.raises(SchemaError, match="INVALID"):
        migrate(create_spatial_index_concurrently, "big", "geom")
    migrate(drop_spatial_index_concurrently, "ix_big_geom")
    assert migrate(create_spatial_index_concurrently, "big", "geom") == "ix_big_geom"


def test_check_constraint_added_not_valid_then_validated(ops, migrate):
    _run(ops, "CREATE TABLE shapes (geom geometry(Polygon, 4326))")
    _run(ops, "INSERT INTO shapes VALUES (ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326))")
    migrate(add_check_constraint_online, "ck_shapes_geom_valid", "shapes", "ST_IsValid(geom)")
    validated = _run(
        ops, "SELECT convalidated FROM pg_constraint WHERE conname = 'ck_shapes_geom_valid'"
    ).scalar()
    assert validated is True


def test_change_srid_transforms_coordinates(ops, migrate):
    _run(ops, "CREATE TABLE places (id int, geom geometry(Point, 4326))")
    points = [(-74.0060, 40.7128), (-73.9352, 40.7306), (-73.7949, 40.7282)]
    for i, (x, y) in enumerate(points):
        _run(
            ops,
            "INSERT INTO places VALUES (:i, ST_SetSRID(ST_MakePoint(:x, :y), 4326))",
            i=i,
            x=x,
            y=y,
        )
    migrate(change_srid, "places", "geom", srid=2263)
    rows = _run(
        ops, "SELECT id, ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM places ORDER BY id"
    ).all()
    to_feet = Transformer.from_crs(4326, 2263, always_xy=True)
    mm_in_feet = 0.001 / 0.3048006096
    for (i, x, y, srid), (lon, lat) in zip(rows, points, strict=True):
        ex, ey = to_feet.transform(lon, lat)
        assert srid == 2263
        assert abs(x - ex) < mm_in_feet and abs(y - ey) < mm_in_feet, i
    assert _run(
        ops, "SELECT srid, type FROM geometry_columns WHERE f_table_name = 'places'"
    ).one() == (2263, "POINT")


def test_change_geometry_type_to_multi(ops, migrate):
    _run(ops, "CREATE TABLE parcels2 (geom geometry(Polygon, 4326))")
    _run(
        ops, "INSERT INTO parcels2 VALUES (ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326))"
    )
    migrate(change_geometry_type, "parcels2", "geom", geometry_type="MULTIPOLYGON")
    assert _run(ops, "SELECT GeometryType(geom) FROM parcels2").scalar() == "MULTIPOLYGON"
    assert _run(
        ops, "SELECT type, srid FROM geometry_columns WHERE f_table_name = 'parcels2'"
    ).one() == ("MULTIPOLYGON", 4326)
    with pytest.raises(ConfigError, match="widening"):
        migrate(change_geometry_type, "parcels2", "geom", geometry_type="POINT")
