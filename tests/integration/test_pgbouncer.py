"""PgBouncer mode against a real PgBouncer 1.18 in transaction mode and the real PostGIS.

Every test gets its own bouncer (``default_pool_size=1``: one server connection shared by
all clients, started in ~30 ms), so prepared statements or leaked settings of one test
cannot reach another. Errata 15 is shown both ways: plain engines fail deterministically
(refused ``options``, colliding and vanishing ``_pg3_*`` statements, leaking ``SET``), and
``create_engine(..., pgbouncer=True)`` does not.
"""

import asyncio
import itertools
import math
import os
import socket
import threading
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from pyproj import Geod
from sqlalchemy import exc, text

from pgspatial.engine import SessionSettings, create_async_engine, create_engine, session_factory
from pgspatial.errors import ConfigError, QueryTimeout, ServerNotFound
from pgspatial.local.osuser import resolve_server_user
from pgspatial.settings import Settings
from pgspatial.testing.pgbouncer import PgBouncer, PgBouncerError, find_pgbouncer
from pgspatial.urls import libpq_url

# A parameterized geodesic query; the same text every time, so psycopg would prepare it.
DISTANCE = text(
    "SELECT ST_Distance(p.a, p.b) AS metres, ST_DWithin(p.a, p.b, :r) AS within, "
    "pg_backend_pid() AS backend "
    "FROM (SELECT ST_SetSRID(ST_MakePoint(:x1, :y1), 4326)::geography AS a, "
    "ST_SetSRID(ST_MakePoint(:x2, :y2), 4326)::geography AS b) AS p"
)
AREA = text("SELECT ST_Area(ST_Buffer(ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :r))")
WGS84 = Geod(ellps="WGS84")
ANY_UPSTREAM = "postgresql://postgres@127.0.0.1:5432/pgspatial"  # never connected to


@pytest.fixture
def start_bouncer(pgspatial_database_url, request):
    """Start PgBouncers in front of the test database; all are stopped after the test."""
    started: list[PgBouncer] = []

    def start(**options) -> PgBouncer:
        options.setdefault("pool_mode", "transaction")
        options.setdefault("default_pool_size", 1)
        try:
            bouncer = PgBouncer(pgspatial_database_url, **options)
        except ServerNotFound as error:
            required = os.environ.get("PGSPATIAL_REQUIRE_DB", "").lower() in {"1", "true", "yes"}
            if required or request.config.getoption("--pgspatial-require-db"):
                pytest.fail(str(error), pytrace=False)
            pytest.skip(str(error))
        started.append(bouncer)
        return bouncer.start()

    yield start
    for bouncer in started:
        bouncer.stop()


@pytest.fixture
def bouncer(start_bouncer) -> PgBouncer:
    """Transaction pooling onto a single server connection."""
    return start_bouncer()


@pytest.fixture
def engines():
    """Engines made by the test, disposed after it (their client connections closed)."""
    made: list[sqlalchemy.Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def plain_connect(bouncer: PgBouncer, **kwargs) -> psycopg.Connection:
    """Another client of the bouncer: plain psycopg, no pgspatial settings at all."""
    return psycopg.connect(libpq_url(bouncer.url), connect_timeout=5, **kwargs)


def point_pair(i: int) -> dict[str, float]:
    """Deterministic, varied parameters around New York: two points and a radius."""
    x1, y1 = -74.05 + (i % 17) * 0.013, 40.55 + (i % 13) * 0.021
    x2, y2 = x1 + 0.002 * (1 + i % 7), y1 - 0.0015 * (1 + i % 5)
    metres = WGS84.inv(x1, y1, x2, y2)[2]
    r = metres * (1.1 if i % 2 else 0.9)  # clearly inside or clearly outside
    return {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "r": r}


# -- the helper itself -----------------------------------------------------------------------


def test_bouncer_runs_unprivileged_on_loopback_and_leaves_nothing_behind(start_bouncer):
    bouncer = start_bouncer()
    assert bouncer.url.host == "127.0.0.1"
    assert bouncer.url.drivername == "postgresql+psycopg"
    pid, directory = bouncer.pid, bouncer.directory
    assert pid is not None
    assert directory is not None
    status = Path(f"/proc/{pid}/status").read_text()
    real_uid = int(status.split("Uid:")[1].split()[0])
    assert real_uid == resolve_server_user(Settings().server_user).uid
    assert real_uid != 0 or os.geteuid() != 0
    config = (directory / "pgbouncer.ini").read_text()
    assert "unix_socket_dir = \n" in config
    assert "ignore_startup_parameters = \n" in config
    assert "server_reset_query" not in config  # PgBouncer's default

    with plain_connect(bouncer) as conn:
        assert conn.execute("SELECT postgis_lib_version() IS NOT NULL").fetchone() == (True,)

    bouncer.stop()
    assert not Path(f"/proc/{pid}").exists()  # terminated and reaped, not a zombie
    assert not directory.exists()
    bouncer.stop()  # idempotent


def test_bouncer_stops_when_the_with_block_fails(pgspatial_database_url):
    try:
        bouncer = PgBouncer(pgspatial_database_url)
    except ServerNotFound as error:
        pytest.skip(str(error))
    pids = []

    def failing_test_body() -> None:
        with bouncer:
            pids.append(bouncer.pid)
            raise RuntimeError("test body failed")

    with pytest.raises(RuntimeError, match="test body failed"):
        failing_test_body()
    assert pids
    assert not Path(f"/proc/{pids[0]}").exists()
    assert not bouncer.running


def test_a_failed_start_raises_with_the_log_tail_and_cleans_up(start_bouncer):
    with pytest.raises(PgBouncerError, match="unknown parameter") as failure:
        start_bouncer(extra_settings={"no_such_setting": "1"})
    assert "no_such_setting" in str(failure.value)


def test_a_taken_port_is_an_error_not_a_false_start(start_bouncer):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PgBouncerError, match="Address already in use"):
            start_bouncer(port=port)


def test_a_missing_binary_names_the_debian_package(tmp_path):
    with pytest.raises(ServerNotFound, match=r"Debian package `pgbouncer`.*apt-get install"):
        find_pgbouncer(search_path=str(tmp_path))
    with pytest.raises(ServerNotFound, match="is not an executable"):
        PgBouncer(ANY_UPSTREAM, binary=tmp_path / "pgbouncer")


def test_bad_options_are_refused_before_anything_starts():
    with pytest.raises(ConfigError, match="pool_mode"):
        PgBouncer(ANY_UPSTREAM, pool_mode="sessions")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="default_pool_size"):
        PgBouncer(ANY_UPSTREAM, default_pool_size=0)
    with pytest.raises(ConfigError, match="single line"):
        PgBouncer(ANY_UPSTREAM, extra_settings={"admin_users": "a\nauth_type = any"})
    with pytest.raises(ConfigError, match="TCP host"):
        PgBouncer("postgresql://postgres@/pgspatial?host=/var/run/postgresql")


# -- acceptance: PgBouncer mode works --------------------------------------------------------


def test_200_interleaved_spatial_queries_all_succeed_on_one_server_connection(bouncer, engines):
    engine = create_engine(bouncer.url, pgbouncer=True, pool_size=4, max_overflow=0)
    engines.append(engine)
    threads, per_thread = 4, 50
    results: list[tuple[int, int, float, bool, int]] = []  # (thread, i, metres, within, pid)
    errors: list[BaseException] = []
    lock = threading.Lock()
    start_line = threading.Barrier(threads, timeout=10)

    def client(worker: int) -> None:
        try:
            start_line.wait()
            for n in range(per_thread):
                i = worker * per_thread + n
                with engine.begin() as conn:
                    row = conn.execute(DISTANCE, point_pair(i)).one()
                with lock:
                    results.append((worker, i, row.metres, row.within, row.backend))
        except BaseException as error:  # reported below, with the others
            with lock:
                errors.append(error)

    workers = [threading.Thread(target=client, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert len(results) == threads * per_thread == 200

    for _, i, metres, within, _ in results:
        params = point_pair(i)
        expected = WGS84.inv(params["x1"], params["y1"], params["x2"], params["y2"])[2]
        assert metres == pytest.approx(expected, abs=0.01)  # PostGIS spheroid == pyproj Geod
        assert within is (i % 2 == 1)
    assert len({pid for *_, pid in results}) == 1  # all four clients shared one backend
    order = [worker for worker, *_ in results]
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches >= 10, f"the clients did not interleave: {order}"

    with plain_connect(bouncer) as conn:  # no statement was ever prepared on it
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)


def test_statement_timeout_is_ours_inside_our_transactions_only(bouncer, engines):
    engine = create_engine(bouncer.url, pgbouncer=True, statement_timeout_ms=1234)
    engines.append(engine)
    backends = set()

    def ours() -> str:
        with engine.begin() as conn:
            backends.add(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
            return conn.execute(text("SHOW statement_timeout")).scalar_one()

    def theirs(conn: psycopg.Connection) -> str:
        with conn.transaction():
            backends.add(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            return conn.execute("SHOW statement_timeout").fetchone()[0]

    with plain_connect(bouncer) as other:
        assert theirs(other) == "0"
        assert ours() == "1234ms"
        assert theirs(other) == "0"  # the same server connection, our setting gone
        assert ours() == "1234ms"
        with engine.connect() as conn:  # the other work_mem & co. arrive as well
            assert conn.execute(text("SHOW work_mem")).scalar_one() == "64MB"
            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "10s"
        with session_factory(engine)() as session:
            assert session.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
        assert theirs(other) == "0"
    assert len(backends) == 1


def test_a_session_set_leaks_to_other_clients_but_set_local_does_not(bouncer, engines):
    # Errata 15: "a per-connection SET leaks to other clients in transaction mode".
    engine = create_engine(bouncer.url, pgbouncer=True, statement_timeout_ms=1234)
    engines.append(engine)
    with (
        plain_connect(bouncer, autocommit=True) as careless,
        plain_connect(bouncer, autocommit=True) as bystander,
    ):
        careless.execute("SET statement_timeout = '777ms'")
        assert bystander.execute("SHOW statement_timeout").fetchone() == ("777ms",)  # leaked
        with engine.begin() as conn:  # SET LOCAL wins over whatever leaked
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
        assert bystander.execute("SHOW statement_timeout").fetchone() == ("777ms",)


def test_statement_timeout_raises_query_timeout_and_the_pool_goes_on(bouncer, engines):
    engine = create_engine(bouncer.url, pgbouncer=True, statement_timeout_ms=200, pool_size=1)
    engines.append(engine)
    began = time.monotonic()
    with pytest.raises(QueryTimeout) as timeout, engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - began < 3
    assert timeout.value.timeout_ms == 200
    assert "200 ms" in str(timeout.value)

    with engine.begin() as conn:  # the same pooled client, the same single server connection
        assert conn.execute(AREA, {"x": -73.98, "y": 40.75, "r": 100.0}).scalar_one() > 30_000
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "200ms"
    with plain_connect(bouncer) as other:
        assert other.execute("SHOW statement_timeout").fetchone() == ("0",)


async def test_async_engine_in_pgbouncer_mode_interleaves_too(bouncer):
    engine = create_async_engine(bouncer.url, pgbouncer=True, statement_timeout_ms=1234)
    try:

        async def client(k: int) -> list[tuple[float, str]]:
            seen = []
            for n in range(12):  # past psycopg's prepare threshold
                async with engine.begin() as conn:
                    params = {"x": -74.0 + k * 0.1 + n * 0.01, "y": 40.7, "r": 50.0 + n}
                    area = (await conn.execute(AREA, params)).scalar_one()
                    timeout = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
                seen.append((area, timeout))
                await asyncio.sleep(0)  # let the other client in
            return seen

        results = await asyncio.wait_for(asyncio.gather(client(0), client(1)), timeout=20)
    finally:
        await engine.dispose()
    for k, seen in enumerate(results):
        for n, (area, timeout) in enumerate(seen):
            assert area == pytest.approx(math.pi * (50.0 + n) ** 2, rel=0.01), (k, n)
            assert timeout == "1234ms"


@pytest.mark.parametrize(
    "value", ["plain", "with spaces", r"back\slash", r"back\ slash", "it's"], ids=repr
)
def test_both_ways_of_applying_settings_deliver_the_same_value(
    bouncer, pgspatial_database_url, value
):
    settings = SessionSettings((("application_name", value), ("statement_timeout", "4321")))
    with psycopg.connect(  # direct: the startup packet
        libpq_url(pgspatial_database_url), options=settings.startup_options()
    ) as direct:
        assert direct.execute("SHOW application_name").fetchone() == (value,)
    with plain_connect(bouncer) as bounced, bounced.transaction():  # through the bouncer
        bounced.execute(settings.set_local_sql())
        assert bounced.execute("SHOW application_name").fetchone() == (value,)
        assert bounced.execute("SHOW statement_timeout").fetchone() == ("4321ms",)


# -- acceptance: the same work fails without the mode ----------------------------------------


def test_direct_mode_is_refused_because_of_the_options_parameter(bouncer, engines):
    engine = create_engine(bouncer.url, pgbouncer=False, statement_timeout_ms=1234)
    engines.append(engine)
    with pytest.raises(exc.OperationalError, match="unsupported startup parameter: options"):
        engine.connect()
    assert "unsupported startup parameter: options" in bouncer.log_tail()


def test_ignoring_the_options_parameter_silently_drops_the_timeouts(start_bouncer, engines):
    lenient = start_bouncer(ignore_startup_parameters=["options"])
    direct = create_engine(lenient.url, pgbouncer=False, statement_timeout_ms=1234)
    bounced = create_engine(lenient.url, pgbouncer=True, statement_timeout_ms=1234)
    engines.extend([direct, bounced])
    with direct.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"  # dropped
    with bounced.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"


def _alternate(client_a, client_b, *, rounds: int, rollback_b_in: int) -> list[tuple]:
    """A and B take turns running AREA, one transaction each; B rolls back in one round.

    Returns the failures as (round, client, SQLSTATE, first line of the message).
    """
    failures = []
    for n in range(1, rounds + 1):
        for name, conn in (("A", client_a), ("B", client_b)):
            try:
                area = conn.execute(AREA, {"x": -73.9 + n * 0.01, "y": 40.7, "r": 100.0})
                assert area.scalar_one() == pytest.approx(math.pi * 100.0**2, rel=0.01)
            except exc.DBAPIError as error:
                failures.append((n, name, error.orig.sqlstate, str(error.orig).splitlines()[0]))
                conn.rollback()
                continue
            if name == "B" and n == rollback_b_in:
                conn.rollback()  # e.g. a read-only request returning its connection
            else:
                conn.commit()
    return failures


def test_auto_prepared_statements_collide_and_vanish_without_the_mode(bouncer, engines):
    """Two clients, one server connection, psycopg's default prepare_threshold (5).

    A's 6th run prepares "_pg3_0" on the shared server connection; B's 6th run prepares
    its own "_pg3_0" there: already exists. The failed transaction's rollback resets B's
    counts, so B prepares again 6 runs later, as "_pg3_1". When B then rolls back a
    transaction, psycopg follows the ROLLBACK with DEALLOCATE ALL, which runs on the
    shared connection and deletes A's statement too: A's next run finds "_pg3_0" gone.
    """
    engine = sqlalchemy.create_engine(bouncer.url)  # plain: no prepare_threshold=None
    engines.append(engine)
    with engine.connect() as a, engine.connect() as b:
        failures = _alternate(a, b, rounds=15, rollback_b_in=13)
    assert failures == [
        (6, "B", "42P05", 'prepared statement "_pg3_0" already exists'),
        (14, "A", "26000", 'prepared statement "_pg3_0" does not exist'),
    ]


def test_the_same_interleaving_succeeds_in_pgbouncer_mode(bouncer, engines):
    engine = create_engine(bouncer.url, pgbouncer=True)
    engines.append(engine)
    with engine.connect() as a, engine.connect() as b:
        assert _alternate(a, b, rounds=15, rollback_b_in=13) == []
    with plain_connect(bouncer) as conn:
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
