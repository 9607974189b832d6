"""A healthy database passes the doctor with no warnings, and --apply-safe-fixes repairs what
it may: ANALYZE, and CREATE INDEX CONCURRENTLY of a missing spatial index.

Healthy means what pgspatial itself builds: the sample tables (pgspatial.sampledata, mapped
by pgspatial's models: one GiST index per column, validity CHECKs), analyzed, with the
timeouts set at the database level, on the embedded cluster's configuration (SSD planner
costs, JIT off, work_mem sized to RAM). pgspatial's own index-aware queries run against it
first, so the workload checks read them too.
"""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from pgspatial import within_distance
from pgspatial.cli import main
from pgspatial.doctor import SEVERITY_RANK, render_text, run_doctor, validate_document
from pgspatial.sampledata import load_sample_data
from pgspatial.sampledata.models import Parcel
from pgspatial.urls import libpq_url

TIMEOUTS = {
    "statement_timeout": "30s",
    "lock_timeout": "10s",
    "idle_in_transaction_session_timeout": "60s",
}


def _wait_for_counters(url: str, table: str, rows: int, timeout_s: float = 10.0) -> None:
    """Wait until the loader's insert counters reached the statistics (flushed at most 1 s
    after its transaction), so that the ANALYZE below resets them for good."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            inserted = conn.execute(
                "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = %s", (table,)
            ).fetchone()
            if inserted and inserted[0] >= rows:
                return
            time.sleep(0.05)
    pytest.fail(f"the statistics never showed the {rows} rows inserted into {table}")


@pytest.fixture
def healthy(pgspatial_fresh_database):
    database = pgspatial_fresh_database
    engine = create_engine(database.url, poolclass=NullPool)
    counts = load_sample_data(engine, parcels=2_000, seed=3)
    _wait_for_counters(database.url, "parcels", counts.parcels)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE parcels, zoning_districts")
        for name, value in TIMEOUTS.items():
            conn.exec_driver_sql(f"ALTER DATABASE \"{database.name}\" SET {name} = '{value}'")
    with engine.connect() as conn:
        centre = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) AS c FROM parcels) s"
            )
        ).one()
        for metres in (250, 500, 750):
            stmt = select(Parcel.id).where(within_distance(Parcel.geom, tuple(centre), metres))
            assert conn.execute(stmt).all()
    engine.dispose()
    return database


def test_a_healthy_database_has_no_warnings(healthy, monkeypatch, capsys):
    report = run_doctor(healthy.url)
    problems = [
        (r.id, r.level, [f.message for f in r.findings])
        for r in report.results
        if r.status == "found" and SEVERITY_RANK[r.level] >= SEVERITY_RANK["warn"]
    ]
    assert problems == []
    assert [r.id for r in report.results if r.status == "skipped"] == []
    assert not report.fails("warn")
    timeouts = report.result("settings.timeouts")
    assert timeouts.status == "ok" and "statement_timeout = 30s (database)" in timeouts.summary
    # pgspatial's own geodesic query (index prefilter + exact geography test) is clean.
    with psycopg.connect(libpq_url(healthy.url)) as conn:
        recorded = conn.execute(
            "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%ST_DWithin(((parcels.geom)%' "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    assert recorded == (1,), "within_distance's statement is in pg_stat_statements"
    workload = report.result("workload.non_sargable")
    assert workload.status == "ok" and "linted" in workload.summary
    assert report.result("index.geography_unindexed").status == "ok"
    assert "exit 0" in render_text(report, fail_on="warn")

    monkeypatch.setenv("DATABASE_URL", healthy.url)
    with pytest.raises(SystemExit) as done:
        main(["doctor", "--fail-on", "warn", "--format", "json"])
    assert done.value.code == 0
    document = json.loads(capsys.readouterr().out)
    assert validate_document(document) == []
    assert document["summary"]["by_level"]["warn"] == document["summary"]["by_level"]["error"] == 0


def test_apply_safe_fixes_analyzes_and_builds_the_missing_index(
    pgspatial_fresh_database, monkeypatch, capsys
):
    database = pgspatial_fresh_database
    with psycopg.connect(libpq_url(database.url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE sites (id integer PRIMARY KEY, geom geometry(Point, 4326) NOT NULL "
            "CHECK (ST_IsValid(geom))) WITH (autovacuum_enabled = false)"
        )
        conn.execute(
            "INSERT INTO sites SELECT i, ST_Point(mod(i, 150) * 0.001, (i / 150) * 0.001, 4326) "
            "FROM generate_series(1, 15000) i"
        )
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
    checks = ["--check", "index.missing_spatial", "--check", "stats.never_analyzed"]
    before = run_doctor(database.url, checks=checks[1::2])
    assert {r.id for r in before.found} == {"index.missing_spatial", "stats.never_analyzed"}

    monkeypatch.setenv("DATABASE_URL", database.url)
    with pytest.raises(SystemExit) as done:
        main(["doctor", *checks, "--apply-safe-fixes", "--fail-on", "warn", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert validate_document(document) == []
    applied = {fix["statement"]: fix for fix in document["applied_fixes"]}
    assert set(applied) == {
        "CREATE INDEX CONCURRENTLY ix_sites_geom ON public.sites USING gist (geom);",
        "ANALYZE public.sites;",
    }
    assert all(fix["ok"] for fix in applied.values()), applied
    assert [c["status"] for c in document["checks"]] == ["ok", "ok"], "audited again after"
    assert done.value.code == 0

    with psycopg.connect(libpq_url(database.url)) as conn:
        valid = conn.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'ix_sites_geom'"
        ).fetchone()
        assert valid == (True,)
        # Nothing else was changed: autovacuum stays off (only printed, never applied).
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'sites'")
        assert options.fetchone()[0] == ["autovacuum_enabled=false"]


def test_text_mode_prints_the_safe_fixes_before_running_them(
    pgspatial_fresh_database, monkeypatch, capsys
):
    database = pgspatial_fresh_database
    with psycopg.connect(libpq_url(database.url), autocommit=True) as conn:
        conn.execute("CREATE TABLE pts (id integer PRIMARY KEY, geom geometry(Point, 4326))")
        conn.execute(
            "INSERT INTO pts SELECT i, ST_Point(i * 0.001, 0, 4326) FROM generate_series(1, 100) i"
        )
    monkeypatch.setenv("DATABASE_URL", database.url)
    with pytest.raises(SystemExit):
        main(["doctor", "--check", "stats", "--apply-safe-fixes"])
    out = capsys.readouterr().out
    announced = out.index("Applying 1 safe fix(es):")
    assert out.index("[stats.never_analyzed] ANALYZE public.pts;") > announced
    assert out.index("done ANALYZE public.pts;") > announced
    with psycopg.connect(libpq_url(database.url)) as conn:
        analyzed = conn.execute(
            "SELECT 1 FROM pg_stat_user_tables WHERE relname = 'pts' AND last_analyze IS NOT NULL"
        ).fetchone()
    assert analyzed == (1,)
