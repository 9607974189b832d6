"""The doctor against a deliberately broken estate: every registered check must fire.

Three places hold every problem the doctor knows:

- ``broken``: one database with every table, index, statistics, workload and settings
  problem (built below, ~1 s);
- ``bare``: a database without postgis, pg_stat_statements and pgstattuple, for the three
  extension checks (absent extensions are the opposite of what the other checks need, so
  they cannot share a database);
- ``lagging``: a temporary embedded cluster whose streaming replica has replay paused
  (``pg_wal_replay_pause()``) while the primary writes, for ``scale.replica_lag``.

The union of what fired must be the registry, each id with its expected level: no check
is left out, and none needs an exclusion. The same estate serves the output tests: the
JSON document against the documented schema, the text report's fixes, the exit codes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from geoalchemy2 import Geometry
from sqlalchemy import Column, Index, Integer, MetaData, Table, create_engine
from sqlalchemy.pool import NullPool

from pgspatial.cli import main
from pgspatial.doctor import (
    JSON_SCHEMA,
    SCHEMA_VERSION,
    registry,
    render_json,
    render_text,
    run_doctor,
    validate_document,
)
from pgspatial.errors import ServerNotFound
from pgspatial.local import LocalCluster
from pgspatial.settings import Settings
from pgspatial.testing import fresh_database
from pgspatial.urls import libpq_url

from .conftest import run_cli

# Thresholds that let thousands of rows stand in for tens of millions.
SMALL = {
    "bloat_min_index_bytes": 0,
    "slow_mean_ms": 0,
    "slow_min_calls": 2,
    "seq_scan_min_count": 3,
    "seq_scan_min_rows": 1_000,
    "large_table_rows": 10_000,
    "unpartitioned_rows": 10_000,
}

BROKEN_DDL = [
    # raw_shapes: typmod-less geometry (SRID 0, generic), mixed SRIDs, bow-ties, no CHECK
    "CREATE TABLE raw_shapes (id serial PRIMARY KEY, geom geometry)",
    "INSERT INTO raw_shapes (geom) SELECT ST_SetSRID(ST_MakePoint(i * 0.001, 40), 4326) "
    "FROM generate_series(1, 300) i",
    "INSERT INTO raw_shapes (geom) SELECT ST_SetSRID(ST_MakePoint(i * 100, 4e6), 3857) "
    "FROM generate_series(1, 100) i",
    "INSERT INTO raw_shapes (geom) SELECT "
    "ST_GeomFromText('POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))', 4326) FROM generate_series(1, 5)",
    # roads (made by GeoAlchemy2 below): a NOT VALID constraint, no validity CHECK
    "INSERT INTO roads SELECT i, ST_MakeLine(ST_Point(i * 0.001, 40, 4326), "
    "ST_Point(i * 0.001 + 0.0005, 40.0005, 4326)) FROM generate_series(1, 20000) i",
    "ALTER TABLE roads ADD CONSTRAINT ck_roads_srid CHECK (ST_SRID(geom) = 4326) NOT VALID",
    # big_points: 20,000 rows, no spatial index, never analyzed (autovacuum off)
    "CREATE TABLE big_points (id integer PRIMARY KEY, geom geometry(Point, 4326) NOT NULL "
    "CHECK (ST_IsValid(geom))) WITH (autovacuum_enabled = false)",
    "INSERT INTO big_points SELECT i, ST_Point(-74 + mod(i, 200) * 0.001, "
    "40.6 + (i / 200) * 0.001, 4326) FROM generate_series(1, 20000) i",
    # churn: analyzed, then half of it updated: stale statistics and dead tuples
    "CREATE TABLE churn (id integer PRIMARY KEY, v integer, geom geometry(Point, 4326) "
    "NOT NULL CHECK (ST_IsValid(geom))) WITH (autovacuum_enabled = false)",
    "INSERT INTO churn SELECT i, 0, ST_Point(i * 0.0001, 40, 4326) "
    "FROM generate_series(1, 30000) i",
    "CREATE INDEX ix_churn_geom ON churn USING gist (geom)",
    "ANALYZE churn",
    "UPDATE churn SET v = 1 WHERE mod(id, 2) = 0",
    # bloated: 90 % deleted and vacuumed: its GiST and B-tree pages are mostly empty
    "CREATE TABLE bloated (id integer PRIMARY KEY, geom geometry(Point, 4326) NOT NULL "
    "CHECK (ST_IsValid(geom)))",
    "INSERT INTO bloated SELECT i, ST_Point(i * 0.0001, 41, 4326) FROM generate_series(1, 40000) i",
    "CREATE INDEX ix_bloated_geom ON bloated USING gist (geom)",
    "DELETE FROM bloated WHERE mod(id, 10) <> 0",
    "VACUUM bloated",
    "ANALYZE bloated",
    # places: geography queries below, and no geography expression index
    "CREATE TABLE places (id integer PRIMARY KEY, geom geometry(Point, 4326) NOT NULL "
    "CHECK (ST_IsValid(geom)))",
    "INSERT INTO places SELECT i, ST_Point(-74 + mod(i, 100) * 0.001, "
    "40.7 + (i / 100) * 0.001, 4326) FROM generate_series(1, 12000) i",
    "CREATE INDEX ix_places_geom ON places USING gist (geom)",
    "ANALYZE places, roads, raw_shapes",
    # non-spatial statements that ILIKE '%ST_%' would take for spatial ones (errata 18)
    "CREATE TABLE people (first_name text, statement text)",
    # PostGIS's SQL objects older than its library, as a package upgrade leaves them
    "CREATE OR REPLACE FUNCTION public.postgis_scripts_installed() RETURNS text "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT '3.2.0 r1'::text AS version $$",
]
WORKLOAD = [
    "SELECT id FROM places WHERE ST_DWithin(geom::geography, "
    "ST_SetSRID(ST_MakePoint(-73.95, 40.75), 4326)::geography, {r})",
    "SELECT id FROM places WHERE ST_Distance(geom, ST_SetSRID(ST_MakePoint(-73.95, 40.75), "
    "4326)) < {r} * 0.00001",
    "SELECT count(*) FROM big_points WHERE ST_Intersects(geom, "
    "ST_MakeEnvelope(-73.99, 40.6, -73.98, 40.61 + {r} * 0.00001, 4326))",
    "SELECT first_name, statement FROM people WHERE first_name <> '{r}'",
]


def flush_statistics(connection) -> None:
    """Make this backend's pending table counters visible to the doctor's connection now."""
    connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")
    connection.exec_driver_sql("SELECT 1")


def build_broken(url: str) -> None:
    """Every problem the doctor knows, in the database at ``url``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        metadata = MetaData()
        roads = Table(
            "roads",
            metadata,
            Column("id", Integer, primary_key=True),
            Column("geom", Geometry("LINESTRING", srid=4326, spatial_index=True)),
        )
        # errata 7: GeoAlchemy2's automatic idx_roads_geom next to a hand-written index
        Index("ix_roads_geom_manual", roads.c.geom, postgresql_using="gist")
        metadata.create_all(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in BROKEN_DDL:
                conn.exec_driver_sql(statement)
            # errata 13: a failed CREATE INDEX CONCURRENTLY leaves an INVALID index
            with pytest.raises(Exception, match="could not create unique index"):
                conn.exec_driver_sql("CREATE UNIQUE INDEX CONCURRENTLY ix_churn_v ON churn (v)")
            database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
            for setting in ("jit = on", "random_page_cost = 4", "work_mem = '1MB'"):
                conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET {setting}')
            for radius in (100, 200, 300, 400, 500):
                for query in WORKLOAD:
                    conn.exec_driver_sql(query.format(r=radius))
            flush_statistics(conn)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def broken(pgspatial_database_url):
    with fresh_database(pgspatial_database_url) as database:
        build_broken(database.url)
        yield database


@pytest.fixture(scope="module")
def bare(pgspatial_database_url):
    with fresh_database(pgspatial_database_url) as database:
        with psycopg.connect(libpq_url(database.url), autocommit=True) as conn:
            conn.execute("DROP EXTENSION pg_stat_statements, pgstattuple")
            conn.execute("DROP EXTENSION postgis CASCADE")
        yield database


def _wait_for(url: str, sql: str, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        while True:
            value = conn.execute(sql).fetchone()[0]
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)


@pytest.fixture(scope="module")
def lagging():
    """A temporary cluster whose replica received WAL it has not replayed (replay paused)."""
    home = Path(tempfile.mkdtemp(prefix="pgspatial-doctor-"))
    home.chmod(0o755)  # the unprivileged server user must enter it
    cluster = LocalCluster(Settings(home=home / ".pgspatial"))
    try:
        try:
            status = cluster.start(replica=True)
        except ServerNotFound as error:  # DATABASE_URL on a machine without PostgreSQL
            pytest.skip(f"no local PostgreSQL for a temporary replica: {error}")
        replica_url = status.replica.url
        with psycopg.connect(libpq_url(replica_url), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        with psycopg.connect(libpq_url(status.url), autocommit=True) as conn:
            conn.execute("CREATE TABLE written AS SELECT generate_series(1, 20000) AS id")
        received = _wait_for(
            replica_url,
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) > 0",
        )
        assert received, "the paused replica should have received the primary's new WAL"
        yield status.url, replica_url
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)


def fired(report) -> dict[str, str]:
    return {r.id: r.level for r in report.results if r.status == "found"}


def no_failures(report) -> None:
    broken_checks = [
        (r.id, r.skip_reason)
        for r in report.results
        if r.status == "skipped" and not r.skip_reason.startswith(("install ", "needs "))
    ]
    assert broken_checks == [], "checks must not fail or crash"


def test_every_registered_check_fires_with_its_severity(broken, bare, lagging):
    expected = {check.id: check.severity for check in registry()}
    # The databases are minutes old: an unused index is not yet evidence, so it is info.
    expected["index.unused_spatial"] = "info"

    main_run = run_doctor(broken.url, **SMALL)
    bare_run = run_doctor(bare.url)
    replica_run = run_doctor(lagging[0], checks=["scale.replica_lag"], replica_lag_bytes=1024)
    for report in (main_run, bare_run, replica_run):
        no_failures(report)

    union: dict[str, str] = {}
    for report in (main_run, bare_run, replica_run):
        for check_id, level in fired(report).items():
            assert union.setdefault(check_id, level) == level, check_id
    assert union == expected
    assert [r.id for r in main_run.results] == list(expected), "registry order, all checks"
    # what needs the other two places, and only that
    assert set(expected) - set(fired(main_run)) == {
        "extension.postgis",
        "extension.pg_stat_statements",
        "extension.pgstattuple",
        "scale.replica_lag",
    }
    assert {"extension.postgis", "extension.pg_stat_statements", "extension.pgstattuple"} <= set(
        fired(bare_run)
    )
    skipped = [r for r in bare_run.results if r.status == "skipped"]
    assert skipped and all(r.skip_reason.startswith("install ") for r in skipped)
    assert bare_run.result("index.duplicate").skip_reason is None, "needs no PostGIS"


def test_the_broken_findings_name_what_and_where(broken):
    report = run_doctor(broken.url, **SMALL)
    duplicate = report.result("index.duplicate").findings[0]
    assert {"idx_roads_geom", "ix_roads_geom_manual"} <= set(duplicate.index.split(", "))
    assert "GeoAlchemy2" in duplicate.message
    mixed = report.result("column.mixed_srid").findings[0]
    assert (mixed.table, mixed.column) == ("public.raw_shapes", "geom")
    assert mixed.details["srids"] == "3857, 4326"
    invalid = report.result("column.invalid_geometry").findings[0]
    assert invalid.details["invalid_rows"] == 5 and invalid.details["top_reason"] == (
        "Self-intersection"
    )
    missing = report.result("index.missing_spatial").findings[0]
    assert missing.safe and missing.fix == (
        "CREATE INDEX CONCURRENTLY ix_big_points_geom ON public.big_points USING gist (geom);"
    )
    geography = report.result("index.geography_unindexed").findings[0]
    assert geography.fix == (
        "CREATE INDEX CONCURRENTLY ix_places_geom_geography ON public.places "
        "USING gist (((geom)::geography));"
    )
    # errata 6: pgstatindex refuses GiST, so the doctor measures it with pgstattuple; the
    # half-full indexes of roads (rows inserted in spatial order) are not bloat.
    with (
        psycopg.connect(libpq_url(broken.url)) as conn,
        pytest.raises(psycopg.errors.WrongObjectType, match="is not a btree index"),
    ):
        conn.execute("SELECT * FROM pgstatindex('ix_bloated_geom')")
    (gist,) = report.result("bloat.gist").findings
    assert gist.index == "ix_bloated_geom" and gist.details["bloat_percent"] > 80
    assert gist.details["size_ratio"] > 10, "far past the 28-bytes-per-entry prefilter"
    btree = report.result("bloat.btree").findings
    assert "bloated_pkey" in {f.index for f in btree}
    rules = {f.details["rule"] for f in report.result("workload.non_sargable").findings}
    assert {"ST_DISTANCE_IN_WHERE", "FUNCTION_ON_INDEXED_COLUMN"} <= rules
    settings = {r.id: r.findings[0].fix for r in report.found if r.id.startswith("settings.")}
    assert "SET jit = 'off'" in settings["settings.jit"]
    assert settings["settings.jit"].startswith("ALTER DATABASE"), "fixed where it was set"
    # Defaults: the 50M-row check and the rest stay quiet on small data.
    defaults = run_doctor(broken.url, checks=["scale", "workload.slow_spatial"])
    assert defaults.result("scale.unpartitioned_large").status == "ok"
    assert defaults.result("workload.slow_spatial").status == "ok"


def test_spatial_statements_are_told_by_function_calls_not_ilike(broken):
    slow = run_doctor(broken.url, checks=["workload.slow_spatial"], **SMALL)
    texts = [f.message for f in slow.result("workload.slow_spatial").findings]
    assert any("ST_Intersects(" in text for text in texts)
    assert not any("first_name" in text for text in texts)
    with psycopg.connect(libpq_url(broken.url)) as conn:
        matched = conn.execute(
            r"SELECT q, q ~* '\mst_[a-z0-9_]+\s*\(', q ILIKE '%ST_%' FROM unnest(ARRAY["
            "'SELECT first_name FROM people', 'SELECT statement FROM people', "
            "'SELECT ST_Intersects(a, b)']) AS q"
        ).fetchall()
    assert matched == [
        ("SELECT first_name FROM people", False, True),
        ("SELECT statement FROM people", False, True),
        ("SELECT ST_Intersects(a, b)", True, True),
    ]


def test_replica_lag_from_pg_stat_replication_and_from_the_replica_url(lagging):
    primary, replica = lagging
    report = run_doctor(
        primary, checks=["scale.replica_lag"], replica_urls=[replica], replica_lag_bytes=1024
    )
    findings = report.result("scale.replica_lag").findings
    assert len(findings) == 2
    streaming, direct = findings
    assert streaming.details["replica"] == "pgspatial_replica"
    assert streaming.details["lag_bytes"] > 1024
    assert direct.details["paused"] is True and "PAUSED" in direct.message
    assert "pg_wal_replay_resume()" in direct.fix
    quiet = run_doctor(primary, checks=["scale.replica_lag"])  # default: 64 MiB
    assert quiet.result("scale.replica_lag").status == "ok"


def test_json_output_matches_the_documented_schema(broken):
    document = json.loads(render_json(run_doctor(broken.url, **SMALL)))
    assert validate_document(document, JSON_SCHEMA) == []
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["summary"]["worst"] == "error"
    assert document["thresholds"]["unpartitioned_rows"] == 10_000
    broken_document = {**document, "schema_version": 2}
    assert validate_document(broken_document) == ["$.schema_version: 2 is not 1"]


def test_text_output_prints_every_fix_of_every_failing_check(broken):
    report = run_doctor(broken.url, **SMALL)
    text = render_text(report, fail_on="warn")
    for result in report.found:
        assert result.id in text
        for finding in result.findings:
            for line in finding.fix.splitlines():
                assert line in text, (result.id, line)
    assert "exit 1" in text


def _cli(monkeypatch, capsys, url, *args):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", *args])
    return exit_info.value.code, capsys.readouterr()


def test_exit_codes(broken, monkeypatch, capsys):
    small = [f"--threshold={name}={value}" for name, value in SMALL.items()]
    code, out = _cli(monkeypatch, capsys, broken.url, "--fail-on", "warn", *small)
    assert code == 1 and "Findings and fixes" in out.out
    code, _ = _cli(monkeypatch, capsys, broken.url, "--check", "settings.jit")
    assert code == 0, "a warning is below the default --fail-on error"
    code, _ = _cli(monkeypatch, capsys, broken.url, "--check", "settings.jit", "--fail-on", "warn")
    assert code == 1
    code, out = _cli(monkeypatch, capsys, broken.url, "--check", "index", "--format", "json")
    assert code == 1, "index.invalid is an error"
    assert {c["id"] for c in json.loads(out.out)["checks"]} == {
        c.id for c in registry() if c.family == "index"
    }
    code, out = _cli(monkeypatch, capsys, broken.url, "--check", "index.dupe")
    assert code == 2 and "index.duplicate" in out.err
    code, out = _cli(monkeypatch, capsys, broken.url, "--threshold", "slow_ms=1")
    assert code == 2 and "slow_mean_ms" in out.err
    unused = f"postgresql+psycopg://nobody@127.0.0.1:1/db_{uuid.uuid4().hex[:6]}"
    code, out = _cli(monkeypatch, capsys, unused, "--check", "settings")
    assert code == 4 and "cannot connect" in out.err


def test_the_command_line_entry_point_prints_no_traceback(broken):
    done = run_cli(
        "doctor", "--format", "json", "--fail-on", "error", env={"DATABASE_URL": broken.url}
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert validate_document(json.loads(done.stdout)) == []
