"""The embedded cluster's lifecycle, each test on a cluster of its own (not the session's)."""

import os
import signal
import socket
import time
from pathlib import Path

import psycopg
import pytest

from pgspatial.local import LocalCluster
from pgspatial.local.processes import postmaster_pid
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url

from .conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(open_tmp_dir):
    managed = LocalCluster(Settings(home=open_tmp_dir / ".pgspatial"))
    yield managed
    managed.destroy()


def _query(url: str, sql: str):
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else None


def test_start_is_idempotent_and_data_survives_a_restart(cluster):
    first = cluster.start()
    assert first.running and first.url
    assert _query(first.url, "SELECT extname FROM pg_extension ORDER BY 1") == [
        ("pg_stat_statements",),
        ("pgstattuple",),
        ("plpgsql",),
        ("postgis",),
    ]
    _query(first.url, "CREATE TABLE kept AS SELECT ST_Point(1, 2, 4326) AS geom")

    second = cluster.start()
    assert second.pid == first.pid, "a second start must not restart the server"

    assert cluster.stop() is True
    assert cluster.status().running is False
    assert cluster.stop() is False, "stopping a stopped cluster is a no-op"

    third = cluster.start()
    assert third.port == first.port, "the port is kept across restarts"
    assert _query(third.url, "SELECT ST_AsText(geom) FROM kept") == [("POINT(1 2)",)]


def test_start_recovers_after_the_postmaster_is_killed(cluster):
    status = cluster.start()
    _query(status.url, "CREATE TABLE survivor (id int); INSERT INTO survivor VALUES (7)")
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while postmaster_pid(status.data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster.status().running is False, "status must not report a killed server as running"

    recovered = cluster.start()
    assert recovered.running and recovered.pid != status.pid
    assert _query(recovered.url, "SELECT id FROM survivor") == [(7,)]


def test_a_taken_port_is_replaced_by_a_free_one(cluster):
    port = cluster.start().port
    cluster.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        moved = cluster.start()
        assert moved.running
        assert moved.port != port
        assert cluster.state().port == moved.port
        assert _query(moved.url, "SELECT 1") == [(1,)]


def test_destroy_removes_everything(cluster):
    status = cluster.start()
    cluster.destroy()
    assert not status.data_dir.exists()
    assert not cluster.state_file.exists()
    assert cluster.status().initialized is False


@pytest.mark.skipif(
    os.geteuid() != 0, reason="the fallback concerns a server user other than the invoker"
)
def test_data_dir_falls_back_when_the_project_is_under_a_private_directory(open_tmp_dir):
    private = open_tmp_dir / "home"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    cluster = LocalCluster(Settings(home=private / "project" / ".pgspatial"))
    try:
        status = cluster.start()
        assert status.running
        assert status.fallback_reason and "cannot enter" in status.fallback_reason
        assert not str(status.data_dir).startswith(str(private))
        assert private.stat().st_mode & 0o777 == 0o700, "never loosen permissions we do not own"
        shown = run_cli("db", "status", env={"PGSPATIAL_HOME": str(cluster.home)})
        assert str(status.data_dir) in shown.stdout
        assert "cannot enter" in shown.stdout
        fallback_root = Path(cluster.state().owned_dirs[0])
    finally:
        cluster.destroy()
    assert not fallback_root.exists()


def test_cli_lifecycle_reports_the_truth(open_tmp_dir):
    env = {"PGSPATIAL_HOME": str(open_tmp_dir / ".pgspatial")}
    try:
        assert run_cli("db", "status", env=env).returncode == 1
        started = run_cli("db", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert "started" in started.stdout
        again = run_cli("db", "start", env=env)
        assert "already running" in again.stdout
        url = run_cli("db", "url", env=env).stdout.strip()
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        assert _query(url, "SELECT postgis_lib_version() IS NOT NULL") == [(True,)]
        assert run_cli("db", "status", env=env).returncode == 0
        assert "stopped" in run_cli("db", "stop", env=env).stdout
        assert run_cli("db", "status", env=env).returncode == 1
    finally:
        destroyed = run_cli("db", "destroy", "--yes", env=env)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not (open_tmp_dir / ".pgspatial").exists()


def test_missing_binaries_give_one_clear_message(open_tmp_dir):
    empty = open_tmp_dir / "empty-bin"
    empty.mkdir()
    result = run_cli(
        "db", "start", env={"PG_BINDIR": str(empty), "PGSPATIAL_HOME": str(open_tmp_dir / "h")}
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert "postgis-3" in result.stderr
    assert str(empty) in result.stderr
