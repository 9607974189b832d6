"""Engines and sessions on the real server: defaults, statement counts, timeouts, restarts,
serializable retries, sync and async."""

import asyncio
import threading
import time

import pytest
from geoalchemy2 import WKBElement
from psycopg.pq import TransactionStatus
from sqlalchemy import Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgspatial.columns import spatial_column
from pgspatial.engine import (
    create_analytics_engine,
    create_async_engine,
    create_engine,
    lift_timeouts,
    lift_timeouts_async,
    run_serializable,
    run_serializable_async,
    session_factory,
)
from pgspatial.errors import QueryTimeout, RetriesExhausted
from pgspatial.local import LocalCluster
from pgspatial.settings import Settings
from pgspatial.testing import count_statements


class Base(DeclarativeBase):
    pass


class Plot(Base):
    __tablename__ = "engine_plots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=0)
    geom: Mapped[WKBElement] = spatial_column("POLYGON", srid=4326)


class EditLog(Base):
    __tablename__ = "engine_edit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[int] = mapped_column(Integer)
    plot_id: Mapped[int] = mapped_column(Integer)


SQUARE = "SRID=4326;POLYGON((-74 40.7, -73.999 40.7, -73.999 40.701, -74 40.701, -74 40.7))"


@pytest.fixture
def url(pgspatial_fresh_database):
    engine = create_engine(pgspatial_fresh_database.url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return pgspatial_fresh_database.url


def _show(connection, name):
    return connection.exec_driver_sql(f"SHOW {name}").scalar()


def test_defaults_arrive_with_the_connection_in_no_extra_round_trip(url):
    engine = create_engine(url)
    with count_statements(engine) as counter, engine.connect() as conn:
        values = {name: _show(conn, name) for name in (
            "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
            "random_page_cost", "effective_cache_size", "work_mem", "application_name",
        )}  # fmt: skip
    assert values == {
        "statement_timeout": "30s",
        "lock_timeout": "10s",
        "idle_in_transaction_session_timeout": "1min",
        "random_page_cost": "1.1",
        "effective_cache_size": "8GB",
        "work_mem": "64MB",
        "application_name": "pgspatial",
    }
    assert counter.count == 7, "only our SHOWs: the settings came in the startup packet"
    assert engine.pool.size() == 10
    engine.dispose()


def test_caller_keywords_win(url):
    settings = Settings(statement_timeout_ms=1500, application_name="parcels-api")
    engine = create_engine(
        url, settings=settings, pool_size=3, connect_args={"application_name": "mine"}
    )
    with engine.connect() as conn:
        assert _show(conn, "statement_timeout") == "1500ms"
        assert _show(conn, "application_name") == "mine"
    assert engine.pool.size() == 3
    engine.dispose()


def test_analytics_engine_has_the_long_timeout(url):
    engine = create_analytics_engine(url)
    with engine.connect() as conn:
        assert _show(conn, "statement_timeout") == "10min"
    engine.dispose()


def _seed(factory, count=100):
    with factory() as session:
        session.add_all(Plot(name=f"p{i}", geom=SQUARE) for i in range(count))
        session.commit()


def test_reading_objects_after_commit_issues_no_statements(url):
    """Errata 12: with expire_on_commit=False 100 objects cost 0 re-fetches, else 100."""
    engine = create_engine(url)
    for expire, expected in ((False, 0), (True, 100)):
        factory = (
            session_factory(engine, expire_on_commit=expire) if expire else session_factory(engine)
        )
        with factory() as session:
            session.execute(text("DELETE FROM engine_plots"))
            plots = [Plot(name=f"p{i}", geom=SQUARE) for i in range(100)]
            session.add_all(plots)
            session.commit()
            with count_statements(session) as counter:
                geoms = [plot.geom for plot in plots]
            assert counter.count == expected, f"expire_on_commit={expire}"
            assert all(g is not None for g in geoms)
    engine.dispose()


def test_statement_timeout_raises_query_timeout_and_the_pool_recovers(url):
    engine = create_engine(url, statement_timeout_ms=300, pool_size=1, max_overflow=0)
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="300 ms") as caught, engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(2)"))
    assert time.monotonic() - started >= 0.3
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.timeout_ms == 300
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_lift_timeouts_lasts_one_transaction(url):
    engine = create_engine(url, statement_timeout_ms=200)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        lift_timeouts(session)
        assert session.execute(text("SELECT pg_sleep(0.4) IS NOT NULL")).scalar() is True
    with pytest.raises(QueryTimeout), factory() as session, session.begin():
        session.execute(text("SELECT pg_sleep(0.4)"))
    engine.dispose()


@pytest.mark.slow
def test_a_server_restart_between_requests_is_invisible(open_tmp_dir):
    cluster = LocalCluster(Settings(home=open_tmp_dir / ".pgspatial"))
    try:
        status = cluster.start()
        engine = create_engine(status.url, pool_size=2)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        cluster.stop()
        cluster.start()
        with engine.connect() as conn:  # pool_pre_ping replaces the dead connection
            assert conn.execute(text("SELECT 2")).scalar() == 2
        engine.dispose()
    finally:
        cluster.destroy()


PLOTS = 4
EDITS_PER_WORKER = 50
STEP = 0.0001


def _edit(worker: int, k: int, attempts: list[int]):
    plot_id = k % PLOTS + 1

    def unit(session):
        attempts.append(worker)
        plot = session.get(Plot, plot_id)
        session.execute(
            text(
                "UPDATE engine_plots SET geom = ST_Translate(geom, :dx, 0), version = :v WHERE id = :id"
            ),
            {"dx": STEP, "v": plot.version + 1, "id": plot_id},
        )
        session.add(EditLog(worker=worker, plot_id=plot_id))
        return plot_id

    return unit


def _check_no_lost_update(engine, applied: int):
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT sum(version) FROM engine_plots")).scalar()
        logged = conn.execute(text("SELECT count(*) FROM engine_edit_log")).scalar()
        drift = conn.execute(
            text("SELECT max(abs(ST_XMin(geom) - (-74 + version * :step))) FROM engine_plots"),
            {"step": STEP},
        ).scalar()
    assert versions == applied, "every applied edit is in the version counters: none lost"
    assert logged == applied, "and in the log, exactly once"
    assert drift < 1e-9, "each plot moved exactly once per applied edit"


def test_serializable_edits_are_applied_exactly_once_with_retries(url):
    engine = create_engine(url, pool_size=4)
    factory = session_factory(engine)
    with factory() as session:
        session.add_all(Plot(id=i, name=f"p{i}", geom=SQUARE) for i in range(1, PLOTS + 1))
        session.commit()
    attempts: list[int] = []
    applied: list[int] = []
    reported: list[RetriesExhausted] = []

    def worker(w: int):
        for k in range(EDITS_PER_WORKER):
            try:
                applied.append(run_serializable(factory, _edit(w, k, attempts), max_attempts=10))
            except RetriesExhausted as error:
                reported.append(error)

    threads = [threading.Thread(target=worker, args=(w,)) for w in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(applied) + len(reported) == 2 * EDITS_PER_WORKER
    assert len(attempts) > len(applied) + len(reported), "concurrent edits must have been retried"
    _check_no_lost_update(engine, len(applied))
    engine.dispose()


def test_retries_are_bounded_and_say_how_many(url):
    engine = create_engine(url)
    factory = session_factory(engine)
    calls = []

    def always_conflicts(session):
        calls.append(1)
        session.execute(text("SELECT 1"))
        raise_serialization_failure(session)

    with pytest.raises(RetriesExhausted, match="all 3 attempts") as caught:
        run_serializable(factory, always_conflicts, max_attempts=3)
    assert caught.value.attempts == 3
    assert len(calls) == 3
    engine.dispose()


def raise_serialization_failure(session):
    """Make PostgreSQL itself raise SQLSTATE 40001."""
    session.execute(
        text("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'serialization_failure'; END $$")
    )


# -- async ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_defaults_statement_count_and_timeout(url):
    engine = create_async_engine(url, statement_timeout_ms=300)
    factory = session_factory(engine)
    async with factory() as session:
        assert (await session.execute(text("SHOW statement_timeout"))).scalar() == "300ms"
        plots = [Plot(name=f"a{i}", geom=SQUARE) for i in range(100)]
        session.add_all(plots)
        await session.commit()
        with count_statements(session) as counter:
            [plot.geom for plot in plots]
        assert counter.count == 0
    async with factory() as session:
        with pytest.raises(QueryTimeout, match="300 ms"):
            await session.execute(text("SELECT pg_sleep(2)"))
    async with factory() as session, session.begin():
        await lift_timeouts_async(session)
        assert (await session.execute(text("SELECT pg_sleep(0.5) IS NOT NULL"))).scalar()
    await engine.dispose()


@pytest.mark.asyncio
async def test_async_serializable_edits(url):
    engine = create_async_engine(url, pool_size=4)
    factory = session_factory(engine)
    async with factory() as session:
        session.add_all(Plot(id=i, name=f"p{i}", geom=SQUARE) for i in range(1, PLOTS + 1))
        await session.commit()
    attempts: list[int] = []
    applied: list[int] = []
    reported: list[RetriesExhausted] = []

    def edit(worker, k):
        plot_id = k % PLOTS + 1

        async def unit(session):
            attempts.append(worker)
            plot = await session.get(Plot, plot_id)
            await asyncio.sleep(0)  # let the other worker interleave
            await session.execute(
                text(
                    "UPDATE engine_plots SET geom = ST_Translate(geom, :dx, 0), version = :v WHERE id = :id"
                ),
                {"dx": STEP, "v": plot.version + 1, "id": plot_id},
            )
            session.add(EditLog(worker=worker, plot_id=plot_id))
            return plot_id

        return unit

    async def worker(w):
        for k in range(EDITS_PER_WORKER):
            try:
                applied.append(await run_serializable_async(factory, edit(w, k), max_attempts=10))
            except RetriesExhausted as error:
                reported.append(error)

    await asyncio.wait_for(asyncio.gather(worker(1), worker(2)), timeout=120)
    await engine.dispose()
    assert len(applied) + len(reported) == 2 * EDITS_PER_WORKER
    assert len(attempts) > len(applied) + len(reported), "concurrent edits must have been retried"
    sync = create_engine(url)
    _check_no_lost_update(sync, len(applied))
    sync.dispose()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_async_server_restart_between_requests_is_invisible(open_tmp_dir):
    cluster = LocalCluster(Settings(home=open_tmp_dir / ".pgspatial"))
    try:
        status = cluster.start()
        engine = create_async_engine(status.url, pool_size=2)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        cluster.stop()
        cluster.start()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 2"))).scalar() == 2
        await engine.dispose()
    finally:
        cluster.destroy()


# -- pool guards: a connection whose session is not idle is never handed out ----------------


def _pid(conn):
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "no-pre-ping"])
def test_a_pooled_connection_left_in_a_transaction_is_replaced_not_handed_out(url, pre_ping):
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=pre_ping)
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            first = _pid(conn)
        # Code still holding the driver connection uses it after it went back to the pool
        # (what an abandoned COPY generator did when a client disconnected mid-stream).
        driver.execute("SELECT 1")
        assert driver.info.transaction_status == TransactionStatus.INTRANS
        with engine.connect() as conn:
            assert _pid(conn) != first
        assert driver.closed
    finally:
        engine.dispose()


def test_a_connection_returned_inside_a_transaction_is_closed_not_pooled(url):
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_reset_on_return=None)
    try:
        raw = engine.raw_connection()
        driver = raw.driver_connection
        driver.execute("SELECT 1")
        raw.close()  # no reset on return: it would go back to the pool INTRANS
        assert driver.closed
        with engine.connect() as conn:
            assert _pid(conn) is not None
    finally:
        engine.dispose()


@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "no-pre-ping"])
@pytest.mark.asyncio
async def test_async_pool_replaces_a_connection_left_in_a_transaction(url, pre_ping):
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=pre_ping)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            first = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
        await driver.execute("SELECT 1")
        assert driver.info.transaction_status == TransactionStatus.INTRANS
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar() != first
        assert driver.closed
    finally:
        await engine.dispose()
