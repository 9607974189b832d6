"""The embedded cluster's streaming replica, each test on a cluster of its own."""

import json
import os
import signal
import socket
import time
from pathlib import Path

import psycopg
import pytest

from pgspatial.local import LocalCluster
from pgspatial.local.layout import ClusterState
from pgspatial.local.processes import postmaster_pid
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url

from .conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(open_tmp_dir):
    # A space in the path: the standby's primary_conninfo names the primary's socket dir.
    managed = LocalCluster(Settings(home=open_tmp_dir / "my project" / ".pgspatial"))
    yield managed
    managed.destroy()


def _query(url: str, sql: str, params: tuple[object, ...] = ()):
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _wait_for_row(url: str, sql: str, expected, *, timeout_s: float = 10.0):
    """Poll the replica until ``sql`` returns ``expected`` (streaming is fast, not instant)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = _query(url, sql)
        except psycopg.errors.UndefinedTable as missing:  # the CREATE TABLE is not there yet
            got = missing
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _wait_until_dead(data_dir: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while postmaster_pid(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def test_replica_streams_rows_written_on_the_primary_and_start_is_idempotent(cluster):
    status = cluster.start(replica=True)
    replica = status.replica
    assert replica is not None and replica.running and replica.streaming
    assert replica.port not in {None, status.port}
    assert replica.data_dir == status.data_dir.parent / "replica"
    assert cluster.replica_url() == replica.url
    assert cluster.state().replica_port == replica.port, "the port is recorded"

    assert _query(replica.url, "SELECT pg_is_in_recovery()") == [(True,)]
    assert _query(status.url, "SELECT pg_is_in_recovery()") == [(False,)]
    # The replica runs with the generated config, on its own port and socket.
    assert _query(replica.url, "SHOW port") == [(str(replica.port),)]
    assert _query(replica.url, "SHOW hot_standby") == [("on",)]
    assert _query(replica.url, "SHOW random_page_cost") == [("1.1",)]
    assert (replica.data_dir / f".s.PGSQL.{replica.port}").is_socket()
    assert _query(replica.url, "SELECT extname FROM pg_extension WHERE extname = 'postgis'")

    _query(status.url, "CREATE TABLE streamed AS SELECT ST_Point(1, 2, 4326) AS geom")
    assert _wait_for_row(
        replica.url, "SELECT ST_AsText(geom) FROM streamed", [("POINT(1 2)",)]
    ) == [("POINT(1 2)",)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        _query(replica.url, "INSERT INTO streamed VALUES (NULL)")

    again = cluster.start(replica=True)
    assert again.pid == status.pid and again.replica.pid == replica.pid, "second start: no-op"
    plain = cluster.start()
    assert plain.replica.pid == replica.pid, "start() without replica=True leaves it alone"
    assert "replica: running" in plain.describe()


def test_stop_stops_both_and_start_resumes_streaming(cluster):
    first = cluster.start(replica=True)
    _query(first.url, "CREATE TABLE before_stop (id int); INSERT INTO before_stop VALUES (1)")

    assert cluster.stop() is True
    stopped = cluster.status()
    assert not stopped.running and not stopped.replica.running
    assert cluster.stop() is False, "stopping a stopped cluster is a no-op"
    assert "replica: stopped" in stopped.describe()

    # Written while the replica was away: the slot kept the WAL, so it catches up.
    restarted = cluster.start()
    assert not restarted.replica.running, "a plain start does not start the replica"
    _query(restarted.url, "INSERT INTO before_stop VALUES (2)")
    resumed = cluster.start(replica=True)
    assert resumed.replica.running and resumed.replica.streaming
    assert resumed.replica.port == first.replica.port, "the replica keeps its port"
    assert _wait_for_row(
        resumed.replica.url, "SELECT id FROM before_stop ORDER BY id", [(1,), (2,)]
    ) == [(1,), (2,)]
    _query(resumed.url, "INSERT INTO before_stop VALUES (3)")
    assert _wait_for_row(resumed.replica.url, "SELECT count(*) FROM before_stop", [(3,)]) == [(3,)]


def test_killed_replica_recovers_and_a_taken_port_is_replaced(cluster):
    status = cluster.start(replica=True)
    replica = status.replica
    os.kill(replica.pid, signal.SIGKILL)
    _wait_until_dead(replica.data_dir)
    assert cluster.status().replica.running is False, "a killed replica is not running"

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", replica.port))
        squatter.listen()
        recovered = cluster.start(replica=True)
    assert recovered.replica.running and recovered.replica.pid != replica.pid
    assert recovered.replica.port != replica.port
    assert cluster.state().replica_port == recovered.replica.port
    assert _query(recovered.replica.url, "SELECT pg_is_in_recovery()") == [(True,)]
    _query(recovered.url, "CREATE TABLE after_crash AS SELECT 7 AS id")
    assert _wait_for_row(recovered.replica.url, "SELECT id FROM after_crash", [(7,)]) == [(7,)]


def test_destroy_removes_the_replica_its_slot_and_its_socket_dir(open_tmp_dir):
    # A home this deep puts both sockets past the ~100-byte limit of a socket address.
    cluster = LocalCluster(Settings(home=open_tmp_dir / ("deep" * 15) / ".pgspatial"))
    try:
        _destroy_removes_everything(cluster)
    finally:
        cluster.destroy()


def _destroy_removes_everything(cluster):
    status = cluster.start(replica=True)
    replica_dir = status.replica.data_dir
    socket_dir = status.replica.socket_dir
    assert replica_dir == cluster.home / "replica"
    assert socket_dir != replica_dir, "the socket moved to a short path"
    assert len(str(socket_dir / f".s.PGSQL.{status.replica.port}")) <= 100
    assert (socket_dir / f".s.PGSQL.{status.replica.port}").is_socket()
    assert _query(status.url, "SELECT slot_name, active FROM pg_replication_slots") == [
        ("pgspatial_replica", True)
    ]

    assert cluster.destroy_replica() is True
    assert not replica_dir.exists()
    assert cluster.status().replica is None
    assert _query(status.url, "SELECT count(*) FROM pg_replication_slots") == [(0,)]
    assert cluster.destroy_replica() is False

    remade = cluster.start(replica=True)
    assert remade.replica.running and remade.replica.data_dir == replica_dir
    cluster.destroy()
    assert not replica_dir.exists()
    assert not socket_dir.exists()
    assert not status.data_dir.exists()
    assert not cluster.home.exists()


@pytest.mark.skipif(
    os.geteuid() != 0, reason="the fallback concerns a server user other than the invoker"
)
def test_replica_goes_beside_a_fallback_data_dir(open_tmp_dir):
    private = open_tmp_dir / "home"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    cluster = LocalCluster(Settings(home=private / "project" / ".pgspatial"))
    try:
        status = cluster.start(replica=True)
        assert status.fallback_reason
        assert status.replica.data_dir == status.data_dir.parent / "replica"
        assert not str(status.replica.data_dir).startswith(str(private))
        assert _query(status.replica.url, "SELECT pg_is_in_recovery()") == [(True,)]
        fallback_root = Path(cluster.state().owned_dirs[0])
    finally:
        cluster.destroy()
    assert not fallback_root.exists()


def test_cli_manages_the_replica(open_tmp_dir):
    env = {"PGSPATIAL_HOME": str(open_tmp_dir / ".pgspatial")}
    try:
        missing = run_cli("db", "url", "--replica", env=env)
        assert missing.returncode == 1
        assert "no replica" in missing.stderr and "db start --replica" in missing.stderr
        assert "Traceback" not in missing.stderr

        started = run_cli("db", "start", "--replica", env=env)
        assert started.returncode == 0, started.stderr
        assert "replica: running" in started.stdout
        url = run_cli("db", "url", "--replica", env=env).stdout.strip()
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        assert _query(url, "SELECT pg_is_in_recovery()") == [(True,)]
        shown = run_cli("db", "status", env=env)
        assert shown.returncode == 0 and "streaming" in shown.stdout

        stopped = run_cli("db", "stop", env=env)
        assert "stopped" in stopped.stdout
        after = run_cli("db", "status", env=env)
        assert after.returncode == 1 and "replica: stopped" in after.stdout
    finally:
        destroyed = run_cli("db", "destroy", "--yes", env=env)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not (open_tmp_dir / ".pgspatial").exists()


def test_state_files_without_replica_fields_still_load(tmp_path):
    """A state.json written before replicas existed (and one with unknown keys) loads."""
    old = {
        "data_dir": "/d",
        "socket_dir": "/d",
        "port": 5999,
        "server_user": "postgres",
        "bindir": "/b",
        "major": 15,
        "fallback_reason": None,
        "owned_dirs": [],
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(old))
    state = ClusterState.load(path)
    assert state is not None and state.replica_port is None and state.replica_data_dir is None
    path.write_text(json.dumps({**old, "from_the_future": 1}))
    assert ClusterState.load(path) == state
