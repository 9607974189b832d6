"""The doctor where it cannot see everything: no pg_stat_statements and pgstattuple, and a
non-superuser role that may only read. The checks that need what is missing are skipped
with the reason and what to do ("install X: ...", "needs Y: GRANT ..."); nothing crashes,
nothing prints a traceback, and the other checks still run.
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from pgspatial.doctor import run_doctor, validate_document
from pgspatial.sampledata import load_sample_data
from pgspatial.urls import libpq_url

from .conftest import run_cli

NEEDS_PGSS = {"workload.slow_spatial", "workload.non_sargable", "index.geography_unindexed"}
NEEDS_PGSTATTUPLE = {"bloat.gist", "bloat.btree"}


def _load(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    load_sample_data(engine, parcels=1_000, seed=5)
    engine.dispose()


def _skips(report) -> dict[str, str]:
    return {r.id: r.skip_reason for r in report.results if r.status == "skipped"}


def _ran_cleanly(report) -> None:
    for result in report.results:
        if result.status == "skipped":
            assert result.skip_reason.startswith(("install ", "needs ")), result
            assert "internal error" not in result.skip_reason


def test_without_pg_stat_statements_and_pgstattuple(pgspatial_fresh_database):
    database = pgspatial_fresh_database
    _load(database.url)
    with psycopg.connect(libpq_url(database.url), autocommit=True) as conn:
        conn.execute("DROP EXTENSION pg_stat_statements, pgstattuple")

    report = run_doctor(database.url, bloat_min_index_bytes=0)
    _ran_cleanly(report)
    skips = _skips(report)
    assert set(skips) == NEEDS_PGSS | NEEDS_PGSTATTUPLE
    for check in NEEDS_PGSS:
        assert skips[check].startswith("install pg_stat_statements: CREATE EXTENSION")
    for check in NEEDS_PGSTATTUPLE:
        assert skips[check].startswith("install pgstattuple: CREATE EXTENSION pgstattuple;")
    extension = report.result("extension.pg_stat_statements")
    assert extension.level == "warn" and "CREATE EXTENSION pg_stat_statements;" in (
        extension.findings[0].fix
    )
    assert report.result("extension.pgstattuple").level == "info"
    assert report.result("column.invalid_geometry").status == "ok", "the rest still runs"

    done = run_cli("doctor", env={"DATABASE_URL": database.url})
    assert "Traceback" not in done.stdout + done.stderr
    assert "skipped: install pgstattuple" in done.stdout
    assert done.returncode == 0, "warnings and skips are below the default --fail-on error"


@pytest.fixture
def reader(pgspatial_fresh_database):
    """A LOGIN role that may connect and SELECT, and nothing else (no pg_monitor)."""
    database = pgspatial_fresh_database
    _load(database.url)
    role = f"doctor_reader_{uuid.uuid4().hex[:8]}"
    admin = libpq_url(database.url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT CONNECT ON DATABASE "{database.name}" TO {role}')
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.execute(f"GRANT SELECT ON parcels TO {role}")  # not zoning_districts
    url = make_url(database.url).set(username=role).render_as_string(hide_password=False)
    try:
        yield url, role
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f'REVOKE CONNECT ON DATABASE "{database.name}" FROM {role}')
            conn.execute(f"DROP ROLE {role}")


def test_as_a_read_only_role(reader):
    url, role = reader
    report = run_doctor(url, bloat_min_index_bytes=0)
    assert report.database["user"] == role
    _ran_cleanly(report)
    skips = _skips(report)
    assert set(skips) == NEEDS_PGSS | NEEDS_PGSTATTUPLE
    for check in NEEDS_PGSS:
        assert skips[check] == (
            "needs pg_read_all_stats to see the statements of every role in "
            f"pg_stat_statements: GRANT pg_read_all_stats TO {role};"
        )
    for check in NEEDS_PGSTATTUPLE:
        assert skips[check].startswith("needs pg_stat_scan_tables")
        assert f"GRANT pg_stat_scan_tables TO {role};" in skips[check]
    # The sampling checks read what they may and say what they could not.
    invalid = report.result("column.invalid_geometry")
    mixed = report.result("column.mixed_srid")
    assert invalid.status == mixed.status == "ok"
    assert report.result("stats.never_analyzed").status == "ok"
    assert report.result("index.unused_spatial").status in {"ok", "found"}

    done = run_cli("doctor", "--format", "json", env={"DATABASE_URL": url})
    assert "Traceback" not in done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert validate_document(document) == []
    assert document["database"]["user"] == role


def test_unreadable_tables_are_named_with_the_grant(reader, pgspatial_fresh_database):
    url, role = reader
    with psycopg.connect(libpq_url(pgspatial_fresh_database.url), autocommit=True) as conn:
        conn.execute("CREATE TABLE hidden_shapes (id integer PRIMARY KEY, geom geometry)")
        conn.execute(
            "INSERT INTO hidden_shapes VALUES (1, 'POINT(0 0)'), (2, 'SRID=3857;POINT(1 1)')"
        )
    report = run_doctor(url, checks=["column"])
    mixed = report.result("column.mixed_srid")
    assert mixed.status == "ok", "it could not read the only mixed table"
    assert len(mixed.notes) == 1
    assert "public.hidden_shapes" in mixed.notes[0]
    assert f"GRANT SELECT ON them TO {role}" in mixed.notes[0]
    # Declarations come from the catalog, readable or not.
    assert report.result("column.srid_unknown").findings[0].table == "public.hidden_shapes"
