"""verify_schema and `pgspatial verify-schema` against a real database."""

import pytest
from sqlalchemy import text

from pgspatial.verify import verify_schema

from . import migration_models
from .conftest import run_cli

MODELS = "tests.integration.migration_models:Base"


@pytest.fixture
def db(pgspatial_fresh_database):
    engine = pgspatial_fresh_database.engine
    migration_models.Base.metadata.create_all(engine)
    return engine


def _kinds(engine):
    return sorted(
        (p.kind, p.table, p.column) for p in verify_schema(engine, migration_models.Base.metadata)
    )


def _sql(engine, *statements):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_a_database_made_from_the_models_matches(db):
    assert verify_schema(db, migration_models.Base.metadata) == []


def test_missing_and_invalid_indexes(db):
    _sql(db, "DROP INDEX ix_lots_geom", "DROP INDEX ix_lots_geom_geography")
    assert _kinds(db) == [
        ("geodesic-index-missing", "lots", "geom"),
        ("index-missing", "lots", "geom"),
    ]
    _sql(
        db,
        "INSERT INTO districts (code, geom) SELECT 'D' || g, ST_Multi(ST_Buffer(ST_Point(g, 0, 4326), 0.1)) "
        "FROM generate_series(1, 20000) g",
        "DROP INDEX ix_districts_geom",
        "SET statement_timeout = 20",
    )
    with pytest.raises(Exception, match="statement timeout"):
        _sql(
            db,
            "SET statement_timeout = 20",
            "CREATE INDEX CONCURRENTLY ix_districts_geom ON districts USING gist (geom)",
        )
    problems = {
        p.kind: p
        for p in verify_schema(db, migration_models.Base.metadata)
        if p.table == "districts"
    }
    assert set(problems) == {"index-missing", "index-invalid"}
    assert "DROP INDEX CONCURRENTLY ix_districts_geom" in problems["index-invalid"].message


def test_checks_missing_or_not_valid(db):
    _sql(db, "ALTER TABLE lots DROP CONSTRAINT ck_lots_geom_valid")
    _sql(db, "ALTER TABLE districts DROP CONSTRAINT ck_districts_geom_valid")
    _sql(
        db,
        "ALTER TABLE districts ADD CONSTRAINT ck_districts_geom_valid CHECK (ST_IsValid(geom)) NOT VALID",
    )
    assert _kinds(db) == [
        ("check-missing", "lots", "geom"),
        ("check-not-valid", "districts", "geom"),
    ]


def test_type_srid_and_kind_drift(db):
    _sql(
        db,
        "ALTER TABLE lots ALTER COLUMN geom TYPE geometry(MultiPolygon, 4326) USING ST_Multi(geom)",
        "ALTER TABLE routes ALTER COLUMN local TYPE geometry(LineString, 3857) USING ST_Transform(local, 3857)",
        "ALTER TABLE routes ALTER COLUMN path TYPE geometry(LineString, 4326) USING path::geometry",
    )
    found = _kinds(db)
    assert ("type-mismatch", "lots", "geom") in found
    assert ("srid-mismatch", "routes", "local") in found
    assert ("kind-mismatch", "routes", "path") in found


def test_missing_table_and_column(db):
    _sql(db, "DROP TABLE routes", "ALTER TABLE lots DROP COLUMN geom")
    assert _kinds(db) == [("column-missing", "lots", "geom"), ("table-missing", "routes", None)]


def test_missing_postgis(pgspatial_fresh_database):
    _sql(pgspatial_fresh_database.engine, "DROP EXTENSION postgis CASCADE")
    problems = verify_schema(pgspatial_fresh_database.engine, migration_models.Base.metadata)
    assert [p.kind for p in problems] == ["postgis-missing"]
    assert "CREATE EXTENSION postgis" in problems[0].message


def test_cli_exit_codes(db, pgspatial_fresh_database):
    env = {"DATABASE_URL": pgspatial_fresh_database.url}
    clean = run_cli("verify-schema", MODELS, env=env)
    assert clean.returncode == 0, clean.stderr
    assert "schema matches" in clean.stdout
    _sql(db, "DROP INDEX ix_routes_path")
    broken = run_cli("verify-schema", MODELS, env=env)
    assert broken.returncode == 1
    assert "index-missing routes.path" in broken.stdout
    bad_ref = run_cli("verify-schema", "no_such_module:Base", env=env)
    assert bad_ref.returncode == 2
    assert "Cannot import 'no_such_module'" in bad_ref.stderr
