"""Clients that leave mid-request must not leave a busy connection behind.

A feature stream holds a session, its transaction and a running COPY; a tile request holds a
session while PostGIS builds the tile. When the client goes away (wrk closing its sockets,
a map cancelling tiles on pan), the connection must come back to the pool idle, at once,
and nothing may run on it afterwards. Before the fix a stream's session stayed checked
out until the garbage collector closed its generators, whose COPY clean-up then ran on a
pooled connection: later requests failed ("can't change 'autocommit' now: connection in
transaction status INTRANS").

The first tests drive the ASGI response in-process, so each way of leaving is exact; the
last one hangs up real sockets on a uvicorn server. Bounded in requests and wall time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from pgspatial import create_async_engine, session_factory
from pgspatial.engine.pool import transaction_status
from pgspatial.sampledata.models import Parcel
from pgspatial.service import ServiceSettings
from pgspatial.service.app import start_state
from pgspatial.service.state import ServiceState
from pgspatial.service.streaming import stream_response
from pgspatial.service.tiles import demo_tile
from pgspatial.settings import Settings
from pgspatial.testing import FreshDatabase

from . import serving
from .conftest import PARCELS
from .serving import serve

# A z14 tile over the demo parcels (about 100 kB) and a z10 one.
TILES = ("/tiles/14/4823/6160.mvt", "/tiles/10/301/385.mvt")


def busy_sessions(database: FreshDatabase) -> list[tuple[str, str]]:
    """Other client sessions on ``database`` that are not idle: (state, query)."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT state, left(query, 80) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' AND state <> 'idle'"
            )
        )
        return [(str(state), str(query)) for state, query in rows]


def settled(database: FreshDatabase, *, within_s: float = 5.0) -> list[tuple[str, str]]:
    """``busy_sessions`` once empty, or as it still is after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while (busy := busy_sessions(database)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return busy


def errors(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:300]}" for r in records if r.levelno >= logging.ERROR]


async def let_finalizers_run() -> None:
    """Collect garbage and let anything it scheduled (async generator clean-up) run."""
    for _ in range(3):
        gc.collect()
        await asyncio.sleep(0.05)


class Checkins:
    """The transaction status of every connection returned to ``engine``'s pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statuses: list[str] = []
        event.listen(engine.sync_engine, "checkin", self._on_checkin)

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is None:  # invalidated: closed, not pooled
            self.statuses.append("discarded")
            return
        status = transaction_status(dbapi_connection)
        self.statuses.append(status.name if status is not None else "?")


@pytest_asyncio.fixture
async def engine(service_db: FreshDatabase) -> AsyncIterator[AsyncEngine]:
    """One connection, so the next request gets the one the last left behind."""
    engine = create_async_engine(service_db.url, pool_size=1, max_overflow=0, pool_timeout=10)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


async def leave_mid_stream(response: Any, how: str) -> None:
    """Send ``response`` to a client that takes two body messages, then leaves ``how``.

    - ``stops-reading``: the next write blocks (its socket buffer is full), then the client
      disconnects: the stream is cancelled while suspended between two blocks;
    - ``disconnects``: writes go through and the disconnect arrives while the stream reads
      the next block from PostgreSQL;
    - ``send-fails``: ASGI 2.4, the next write raises OSError (Starlette: ClientDisconnect).
    """
    bodies = 0
    gone = anyio.Event()

    async def send(message: Message) -> None:
        nonlocal bodies
        if message["type"] != "http.response.body":
            return
        bodies += 1
        if bodies > 2:
            if how == "send-fails":
                raise OSError("connection reset by peer")
            gone.set()
            if how == "stops-reading":
                await anyio.sleep_forever()

    async def receive() -> Message:
        await gone.wait()
        return {"type": "http.disconnect"}

    spec = "2.4" if how == "send-fails" else "2.3"
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": spec}}
    await response(scope, receive, send)


@pytest.mark.parametrize("how", ["stops-reading", "disconnects", "send-fails"])
@pytest.mark.parametrize("collection", [False, True], ids=["ndjson", "geojson"])
async def test_a_client_leaving_a_stream_gets_the_connection_back_idle_at_once(
    service_db: FreshDatabase,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
    how: str,
    collection: bool,
) -> None:
    caplog.set_level(logging.WARNING)
    checkins = Checkins(engine)
    stmt = select(Parcel).order_by(Parcel.id)
    response = await stream_response(sessions, stmt, id_column="id", collection=collection)

    if how == "send-fails":
        with pytest.raises(ClientDisconnect):
            await leave_mid_stream(response, how)
    else:
        await leave_mid_stream(response, how)

    # When the response returns, its session is closed and its connection is back.
    assert engine.sync_engine.pool.checkedout() == 0
    assert set(checkins.statuses) <= {"IDLE", "discarded"}, checkins.statuses
    await let_finalizers_run()
    assert await asyncio.to_thread(settled, service_db) == []

    # The one pooled connection serves the next requests (a stream and a query).
    again = await stream_response(sessions, stmt, id_column="id", collection=False)
    assert b"".join([c async for c in again.body_iterator]).count(b"\n") == PARCELS
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Parcel)) == PARCELS
    await let_finalizers_run()
    assert set(checkins.statuses) <= {"IDLE", "discarded"}, checkins.statuses
    assert errors(caplog.records) == []


@pytest_asyncio.fixture
async def state(service_db: FreshDatabase) -> AsyncIterator[ServiceState]:
    settings = ServiceSettings(
        database_url=service_db.url, database=Settings(pool_size=1, max_overflow=0)
    )
    state = await start_state(settings)
    try:
        yield state
    finally:
        await state.dispose()


async def test_a_cancelled_tile_request_returns_its_connection_before_it_ends(
    service_db: FreshDatabase, state: ServiceState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    pool = state.engine.sync_engine.pool
    checkins = Checkins(state.engine)
    for _ in range(5):
        async with anyio.create_task_group() as group:
            group.start_soon(demo_tile, state, 14, 4823, 6160)
            with anyio.fail_after(10):
                while pool.checkedout() == 0:
                    await asyncio.sleep(0)  # until the handler holds its connection
            group.cancel_scope.cancel()  # what a task group does when the client leaves
        assert pool.checkedout() == 0
    assert set(checkins.statuses) <= {"IDLE", "discarded"}, checkins.statuses
    response = await demo_tile(state, 14, 4823, 6160)
    assert response.status_code == 200
    await let_finalizers_run()
    assert await asyncio.to_thread(settled, service_db) == []
    assert errors(caplog.records) == []


# -- a real server, real sockets ------------------------------------------------------------


def hang_up(port: int, path: str) -> None:
    """GET ``path`` with a tiny receive window, read a little, then reset the connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        # A small window makes the server's writes block, as with a slow or gone client.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(10)
        client.connect(("127.0.0.1", port))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        client.recv(1024)
        # SO_LINGER 0: close() sends RST, the abrupt end wrk and browsers produce.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records of the server: uvicorn's own logger does not propagate to the root."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.ERROR)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture(params=[False, True], ids=["app", "behind-BaseHTTPMiddleware"])
def wrapped(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The app as created, or behind a ``BaseHTTPMiddleware`` (``@app.middleware("http")``).

    The service had one when the benchmark found the bug, and applications mounting it
    may add one: it runs the app in a task of its own and abandons the response body
    when the client leaves, so the stream is dropped between two blocks.
    """
    if request.param:
        original = serving.create_app

        def create_app(settings: ServiceSettings) -> Any:
            app = original(settings)

            async def passthrough(request: Request, call_next: Any) -> Any:
                return await call_next(request)

            app.add_middleware(BaseHTTPMiddleware, dispatch=passthrough)
            return app

        monkeypatch.setattr(serving, "create_app", create_app)
    return bool(request.param)


def test_clients_hanging_up_leave_no_busy_connection_and_no_failed_request(
    service_db: FreshDatabase, server_errors: list[logging.LogRecord], wrapped: bool
) -> None:
    settings = ServiceSettings(
        database_url=service_db.url, database=Settings(pool_size=2, max_overflow=0)
    )
    paths = [
        "/parcels/export.ndjson",
        f"/collections/parcels/items?limit={PARCELS}",
        "/parcels/export.geojson",
        *TILES,
    ]
    with serve(settings) as url:
        port = int(url.rsplit(":", 1)[1])
        for i in range(40):
            hang_up(port, paths[i % len(paths)])
        assert settled(service_db) == []
        with httpx.Client(base_url=url, timeout=30) as client:
            statuses = [
                client.get(path).status_code
                for _ in range(4)
                for path in (*paths, "/collections/parcels/items?limit=5")
            ]
        assert set(statuses) <= {200, 204}, statuses
        assert settled(service_db) == []
    assert errors(server_errors) == []
