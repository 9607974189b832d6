"""Read-replica routing against a real streaming replica of a cluster made for this module.

Where a statement ran is asked of the server itself wherever possible: a standby answers
``pg_is_in_recovery()`` with true and refuses writes and row locks, the primary does not.
"""

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import (
    Engine,
    Integer,
    String,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import ResourceClosedError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pgspatial.engine import (
    RoutingSession,
    create_analytics_engine,
    create_async_engine,
    create_engine,
    session_factory,
)
from pgspatial.errors import ReplicaConflict
from pgspatial.local import LocalCluster
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url

pytestmark = pytest.mark.slow

IN_RECOVERY = text("SELECT pg_is_in_recovery()")


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "routed_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(String(100))


# -- the module's cluster ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """One primary with a streaming replica for the whole module, destroyed at the end."""
    home = Path(tempfile.mkdtemp(prefix="pgspatial-routing-"))
    home.chmod(0o755)  # the unprivileged server user must be able to enter it
    managed = LocalCluster(Settings(home=home / ".pgspatial"))
    try:
        managed.start(replica=True)
        yield managed
    finally:
        managed.destroy()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def primary(cluster: LocalCluster) -> Iterator[Engine]:
    engine = create_engine(cluster.url())
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def replica(cluster: LocalCluster, primary: Engine) -> Iterator[Engine]:
    engine = create_engine(cluster.replica_url())
    yield engine
    engine.dispose()


@pytest.fixture
def notes(cluster: LocalCluster, primary: Engine, replica: Engine) -> list[int]:
    """Three known rows, already replayed on the replica."""
    with primary.begin() as conn:
        conn.execute(delete(Note))
        conn.execute(insert(Note), [{"id": i, "body": f"note {i}"} for i in (1, 2, 3)])
    _caught_up(primary, replica)
    return [1, 2, 3]


@pytest.fixture
def factory(primary: Engine, replica: Engine, notes: list[int]) -> Callable[[], Session]:
    return session_factory(primary, replicas=[replica])


def _caught_up(primary: Engine, replica: Engine, timeout_s: float = 10.0) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    with primary.connect() as conn:
        target = conn.scalar(text("SELECT pg_current_wal_lsn()"))
    deadline = time.monotonic() + timeout_s
    with replica.connect() as conn:
        while not conn.scalar(
            text("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), :t) >= 0"), {"t": target}
        ):
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.02)
            conn.rollback()


def _on_replica(session: Session) -> bool:
    return bool(session.execute(IN_RECOVERY).scalar())


# -- reads and writes --------------------------------------------------------------------------


def test_reads_go_to_the_replica(factory, primary, replica):
    with factory() as session:
        assert isinstance(session, RoutingSession)
        assert _on_replica(session)
        assert session.scalar(select(func.pg_is_in_recovery())) is True
        assert session.scalars(select(Note.body).order_by(Note.id)).all() == [
            "note 1",
            "note 2",
            "note 3",
        ]
        assert session.get(Note, 2).body == "note 2"
        for read in (
            select(Note),
            select(Note.id).union(select(Note.id)),
            text("SELECT 1"),
            text("WITH x AS (SELECT 1) SELECT * FROM x"),
            text("SELECT last_update FROM t").columns(),
        ):
            assert session.get_bind(clause=read) is replica, read
        assert not session.reads_from_primary


WRITES = {
    "core insert": lambda: (
        insert(Note).values(id=10, body="new").returning(func.pg_is_in_recovery())
    ),
    "core update": lambda: (
        update(Note).where(Note.id == 1).values(body="changed").returning(func.pg_is_in_recovery())
    ),
    "core delete": lambda: delete(Note).where(Note.id == 3).returning(func.pg_is_in_recovery()),
    "text update": lambda: text(
        "UPDATE routed_notes SET body = 'x' WHERE id = 1 RETURNING pg_is_in_recovery()"
    ),
    "text delete in a CTE": lambda: text(
        "WITH gone AS (DELETE FROM routed_notes WHERE id = 2 RETURNING id) "
        "SELECT pg_is_in_recovery() FROM gone"
    ),
    "select for update": lambda: (
        select(func.pg_is_in_recovery()).select_from(Note).where(Note.id == 1).with_for_update()
    ),
    "text select for update": lambda: text(
        "SELECT pg_is_in_recovery() FROM routed_notes WHERE id = 1 FOR UPDATE"
    ),
    "core delete in a CTE": lambda: select(func.pg_is_in_recovery()).add_cte(
        delete(Note).where(Note.id == 2).returning(Note.id).cte("gone")
    ),
    "text select into": lambda: text(
        "SELECT pg_is_in_recovery() AS r INTO TEMP scratch FROM routed_notes WHERE id = 1"
    ),
}


@pytest.mark.parametrize("make_statement", WRITES.values(), ids=WRITES.keys())
def test_writes_and_locking_reads_go_to_the_primary(factory, primary, make_statement):
    statement = make_statement()
    with factory() as session:
        bind = session.get_bind(clause=statement)
        assert bind is primary
        with bind.connect() as conn:
            assert conn.scalar(IN_RECOVERY) is False
    with factory() as session:
        # For real: a standby refuses every one of these, so success proves the primary.
        result = session.execute(statement)
        try:
            rows = result.all()
        except ResourceClosedError:  # SELECT ... INTO returns no rows
            rows = []
        if rows and len(rows[0]) == 1:
            assert rows[0][0] is False, "the statement itself reports the primary"
        assert session.reads_from_primary
        session.rollback()


def test_an_orm_flush_goes_to_the_primary_and_later_reads_follow_it(factory, primary):
    with factory() as session:
        assert _on_replica(session), "before the write the session reads the replica"
        session.add(Note(id=20, body="flushed"))
        session.flush()
        assert not _on_replica(session), "after the flush it reads the primary"
        assert session.get(Note, 20).body == "flushed"
        session.rollback()


def test_read_your_writes_until_the_session_closes(cluster, factory, primary, replica):
    """With replay paused the replica cannot see the write: only the primary can."""
    with replica.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
        conn.commit()
    try:
        session = factory()
        session.add(Note(id=30, body="mine"))
        session.commit()
        assert session.scalar(select(Note.body).where(Note.id == 30)) == "mine"
        assert not _on_replica(session), "reads after a write stay on the primary"
        session.commit()
        assert session.scalar(select(Note.body).where(Note.id == 30)) == "mine", (
            "also in the next transaction of the same session"
        )

        with factory() as other:
            assert _on_replica(other)
            assert other.scalar(select(Note.body).where(Note.id == 30)) is None, (
                "a new session reads the (paused) replica"
            )

        session.close()
        assert _on_replica(session), "a closed session reads from the replica again"
        assert session.scalar(select(Note.body).where(Note.id == 30)) is None

        session.add(Note(id=31, body="again"))
        session.flush()
        session.rollback()
        session.reset()
        assert _on_replica(session), "reset() ends the session like close()"
        session.close()
    finally:
        with replica.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
            conn.commit()
    _caught_up(primary, replica)


def test_primary_block_pins_reads_to_the_primary(factory, primary, replica):
    with factory() as session:
        assert _on_replica(session)
        with session.primary():
            assert not _on_replica(session)
            assert session.get_bind(clause=select(Note)) is primary
        assert _on_replica(session), "the pin ends with the block"
        assert not session.reads_from_primary


def test_analytics_block_runs_on_the_analytics_engine(cluster, primary, replica, notes):
    analytics = create_analytics_engine(cluster.url())
    try:
        factory = session_factory(primary, replicas=[replica], analytics=analytics)
        with factory() as session:
            assert session.scalar(text("SHOW statement_timeout")) == "30s"
            with session.analytics():
                assert session.get_bind(clause=select(Note)) is analytics
                assert session.scalar(text("SHOW statement_timeout")) == "10min"
                assert session.scalar(select(func.count()).select_from(Note)) == 3
            assert _on_replica(session)
        with (
            session_factory(primary, replicas=[replica])() as plain,
            pytest.raises(RuntimeError, match="analytics"),
            plain.analytics(),
        ):
            pass
    finally:
        analytics.dispose()


# -- recovery conflicts ------------------------------------------------------------------------


@pytest.fixture
def conflicting_replica(cluster, primary, replica) -> Iterator[str]:
    """The replica cancels conflicting queries at once (max_standby_streaming_delay = 0).

    hot_standby_feedback is off (the default), so a VACUUM on the primary that removes rows
    a replica query's snapshot may still need cancels that query as soon as it is replayed.
    """
    url = libpq_url(cluster.replica_url())
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW hot_standby_feedback").fetchone() == ("off",)
        conn.execute("ALTER SYSTEM SET max_standby_streaming_delay = 0")
        conn.execute("SELECT pg_reload_conf()")
    with primary.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS conflicted"))
        conn.execute(text("CREATE TABLE conflicted AS SELECT g AS id FROM generate_series(1, 9) g"))
    _caught_up(primary, replica)
    try:
        yield url
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET max_standby_streaming_delay")
            conn.execute("SELECT pg_reload_conf()")


def _running_on(url: str, marker: str, after: float, timeout_s: float = 10.0) -> float:
    """Wait until a statement containing ``marker`` is active on the server, started after
    ``after`` (an epoch); return its start time."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT extract(epoch FROM query_start)::float8 FROM pg_stat_activity "
                "WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid() "
                "AND extract(epoch FROM query_start) > %s",
                (f"%{marker}%", after),
            ).fetchone()
            if row is not None:
                return float(row[0])
            assert time.monotonic() < deadline, f"{marker} never ran on the replica"
            time.sleep(0.01)


def _remove_rows_the_replica_reads(primary_url: str, row_id: int) -> None:
    with psycopg.connect(primary_url, autocommit=True) as conn:
        conn.execute("DELETE FROM conflicted WHERE id = %s", (row_id,))
        conn.execute("VACUUM conflicted")


RUNNERS = {
    "execute": lambda session, stmt: session.execute(stmt).scalar_one(),
    "scalar": lambda session, stmt: session.scalar(stmt),
    "scalars": lambda session, stmt: session.scalars(stmt).one(),
}


def _conflict_statement(marker: str, conflicts: int):
    """A replica read that holds its snapshot until a conflict cancels it.

    It sleeps while the row the last conflict removes is there (an attempt that should be
    cancelled), not after (the attempt that should succeed); a conflict that never comes
    fails the test in 10 s instead of hanging it.
    """
    return text(
        f"SELECT (SELECT count(*) FROM conflicted) + 0 * length('{marker}') FROM pg_sleep("
        f"CASE WHEN EXISTS (SELECT FROM conflicted WHERE id = {conflicts}) THEN 10 ELSE 0 END)"
    )


def _inject_conflicts(primary_url: str, replica_url: str, marker: str, conflicts: int) -> None:
    """Each time the read (re)starts on the replica, remove rows its snapshot still sees."""
    started = time.time() - 60
    for attempt in range(conflicts):
        started = _running_on(replica_url, marker, after=started)
        _remove_rows_the_replica_reads(primary_url, row_id=attempt + 1)


@pytest.mark.parametrize("run", RUNNERS.values(), ids=RUNNERS.keys())
@pytest.mark.parametrize("conflicts", [1, 2])
def test_a_recovery_conflict_is_retried_once(
    cluster, conflicting_replica, primary, replica, run, conflicts, request
):
    marker = f"probe_{request.node.callspec.id.replace('-', '_')}"
    statement = _conflict_statement(marker, conflicts)
    factory = session_factory(primary, replicas=[replica])
    outcome: dict[str, object] = {}

    def read() -> None:
        try:
            with factory() as session:
                outcome["value"] = run(session, statement)
        except Exception as error:  # handed over to the test thread
            outcome["error"] = error

    reader = threading.Thread(target=read)
    reader.start()
    try:
        _inject_conflicts(libpq_url(cluster.url()), conflicting_replica, marker, conflicts)
    finally:
        reader.join(timeout=30)
    assert not reader.is_alive()

    if conflicts == 1:
        assert "error" not in outcome, outcome.get("error")
        # The first attempt started before the DELETE (it was seen running) and would count
        # 9 rows: 8 proves the answer came from the retry, after the conflict.
        assert outcome["value"] == 8
    else:
        error = outcome.get("error")
        assert isinstance(error, ReplicaConflict), repr(error)
        assert "cancelled twice by recovery conflicts" in str(error)
        assert "session.primary()" in str(error), "the message says what to do"


# -- a replica that is down ----------------------------------------------------------------------


def test_a_stopped_replica_is_skipped(cluster, factory, primary, replica):
    with factory() as session:
        assert _on_replica(session), "the replica answers, and the session remembers it"
    open_session = factory()
    assert _on_replica(open_session), "a transaction open on the replica when it stops"
    try:
        assert cluster.stop_replica() is True
        with factory() as session:
            assert not _on_replica(session), "the primary serves the read"
            assert session.scalar(select(func.count()).select_from(Note)) == 3
        assert open_session.scalar(select(func.count()).select_from(Note)) == 3
        assert not _on_replica(open_session)
        open_session.close()
    finally:
        cluster.start(replica=True)
    _caught_up(primary, replica)
    with factory() as session:
        # The failed replica is skipped for a while (retry_after_s), then used again.
        deadline = time.monotonic() + 15
        while not _on_replica(session):
            assert time.monotonic() < deadline, "the replica was not used again after restart"
            session.rollback()
            time.sleep(0.2)


# -- the same for asyncio ------------------------------------------------------------------------


@pytest.fixture
async def async_engines(cluster, notes) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    engines = create_async_engine(cluster.url()), create_async_engine(cluster.replica_url())
    yield engines
    for engine in engines:
        await engine.dispose()


@pytest.mark.asyncio
async def test_async_reads_go_to_the_replica_and_writes_to_the_primary(async_engines):
    primary, replica = async_engines
    factory = session_factory(primary, replicas=[replica])
    async with factory() as session:
        # Asked outside any statement (no greenlet), before any replica was probed.
        assert session.get_bind(clause=select(Note)) is replica.sync_engine
        assert await session.scalar(IN_RECOVERY) is True
        assert (await session.execute(IN_RECOVERY)).scalar() is True
        assert (await session.get(Note, 1)).body == "note 1"
        write = update(Note).where(Note.id == 1).values(body="async")
        bind = await session.run_sync(lambda s: s.get_bind(clause=write))
        assert bind is primary.sync_engine
        assert session.get_bind(clause=write) is primary.sync_engine
        await session.execute(write)
        assert await session.scalar(IN_RECOVERY) is False, "read-your-writes"
        assert await session.scalar(select(Note.body).where(Note.id == 1)) == "async"
        await session.rollback()
        for_update = select(func.pg_is_in_recovery()).select_from(Note).with_for_update()
        assert (await session.execute(for_update)).scalars().first() is False
    async with factory() as fresh:
        assert await fresh.scalar(IN_RECOVERY) is True, "a new session reads the replica"
        assert session.get_bind(clause=select(Note)) is replica.sync_engine


@pytest.mark.asyncio
async def test_async_flush_and_primary_block(async_engines):
    primary, replica = async_engines
    factory = session_factory(primary, replicas=[replica])
    async with factory() as session:
        with session.sync_session.primary():
            assert await session.scalar(IN_RECOVERY) is False
        assert await session.scalar(IN_RECOVERY) is True
        session.add(Note(id=40, body="async flush"))
        await session.flush()
        assert await session.scalar(IN_RECOVERY) is False
        assert (await session.get(Note, 40)).body == "async flush"
        await session.rollback()


@pytest.mark.asyncio
async def test_async_stopped_replica_is_skipped(cluster, async_engines):
    primary, replica = async_engines
    factory = session_factory(primary, replicas=[replica])
    async with factory() as session:
        assert await session.scalar(IN_RECOVERY) is True
    try:
        cluster.stop_replica()
        async with factory() as session:
            assert await session.scalar(IN_RECOVERY) is False
            assert await session.scalar(select(func.count()).select_from(Note)) == 3
    finally:
        cluster.start(replica=True)


@pytest.mark.asyncio
async def test_async_analytics_block(cluster, async_engines):
    primary, replica = async_engines
    analytics = create_async_engine(
        cluster.url(), statement_timeout_ms=Settings().analytics_statement_timeout_ms
    )
    try:
        factory = session_factory(primary, replicas=[replica], analytics=analytics)
        async with factory() as session:
            with session.sync_session.analytics():
                assert await session.scalar(text("SHOW statement_timeout")) == "10min"
            assert await session.scalar(IN_RECOVERY) is True
    finally:
        await analytics.dispose()


@pytest.mark.asyncio
@pytest.mark.parametrize("conflicts", [1, 2])
async def test_async_recovery_conflict_is_retried_once(
    cluster, conflicting_replica, async_engines, conflicts
):
    primary, replica = async_engines
    factory = session_factory(primary, replicas=[replica])
    marker = f"async_probe_{conflicts}"

    async def read() -> object:
        async with factory() as session:
            return await session.scalar(_conflict_statement(marker, conflicts))

    task = asyncio.ensure_future(read())
    try:
        await asyncio.to_thread(
            _inject_conflicts, libpq_url(cluster.url()), conflicting_replica, marker, conflicts
        )
    except BaseException:
        task.cancel()
        raise
    if conflicts == 1:
        assert await task == 8
    else:
        with pytest.raises(ReplicaConflict, match="cancelled twice"):
            await task
