"""Features built by PostgreSQL, sent to the client with Python only moving bytes.

PostgreSQL writes every feature as one ``{"type":"Feature",...}`` line (pgspatial's
feature SQL); the endpoints wrap the lines in the envelope they need: a GeoJSON
FeatureCollection (with OGC ``numberReturned`` and ``links`` written *after* the features,
once they are counted), NDJSON as is, or a single Feature. The lines come two ways:

- **Bounded results** (a page of at most the service's ``max_limit``, one feature, the k
  nearest): :func:`fetch_features` runs the feature SQL as one plain SELECT on a connection
  in autocommit and :func:`page_response` sends it whole. No BEGIN/COMMIT round trips, the
  statement_timeout of web requests stays in force, and psycopg prepares the statement
  after a few runs. In ``make bench`` (1,000-feature pages, 8 connections) this more than
  doubled ``/items``'s rate against the COPY stream below (docs/benchmarks.md).
- **Unbounded results** (exports, ``/parcels`` up to 100,000): :func:`stream_response`
  streams :func:`pgspatial.stream_features_async` (COPY, NDJSON mode) with the timeouts
  lifted for its transaction, so memory stays flat however many rows there are.

The first chunk is read before the response starts, so errors in the statement (a bad
column, a database that is down) still become a proper 4xx/5xx; the session and its
transaction live as long as the stream, and are closed when it ends or the client leaves.

A client leaving mid-stream (wrk at the end of a run, a map cancelling a request) must
not leave anything running on the connection. The response closes the feature generator
itself, in the request's task, whatever ended the stream (a cancelled task group, a
``ClientDisconnect``); a ``BackgroundTask(lines.aclose)`` did nothing (Starlette sees a
builtin method, runs it in a thread and drops the awaitable it returns), so the session
stayed checked out until the garbage collector closed the generators, each in a task of
its own, while the connection was back in the pool. Closing is shielded from the
cancellation (:func:`pgspatial.engine.pool.finish`), and a COPY still running is ended by
discarding the connection, not by a rollback that PostgreSQL would refuse mid-COPY.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from psycopg.pq import TransactionStatus
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from pgspatial import stream_features_async
from pgspatial.engine.pool import finish, transaction_status
from pgspatial.serialize import feature_spec

__all__ = [
    "GEOJSON",
    "NDJSON",
    "FeatureLines",
    "fetch_features",
    "page_response",
    "read_in_autocommit",
    "stream_response",
]

GEOJSON = "application/geo+json"
NDJSON = "application/geo+json-seq"


class FeatureLines:
    """Counts NDJSON feature lines as they pass and remembers the last complete one."""

    def __init__(self) -> None:
        self.count = 0
        self.last_line = b""
        self._partial = b""

    def see(self, chunk: bytes) -> None:
        """Account for ``chunk`` (any split of the line stream)."""
        self.count += chunk.count(b"\n")
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return
        start = data.rfind(b"\n", 0, cut) + 1
        self.last_line = data[start:cut]
        self._partial = data[cut + 1 :]

    @classmethod
    def of(cls, lines: Sequence[bytes]) -> FeatureLines:
        """The account of a complete list of lines."""
        seen = cls()
        seen.count = len(lines)
        seen.last_line = lines[-1] if lines else b""
        return seen

    def last_id(self) -> Any:
        """The ``id`` of the last feature seen (None when there was none)."""
        if not self.last_line:
            return None
        return orjson.loads(self.last_line).get("id")


async def _lines(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    id_column: str | None,
    properties: Sequence[str] | None,
) -> AsyncGenerator[bytes, None]:
    session = sessions()
    connection: AsyncConnection | None = None
    features: AsyncIterator[bytes] | None = None
    try:
        await session.begin()
        connection = await session.connection()
        features = stream_features_async(
            session, stmt, output_format="ndjson", id_column=id_column, properties=properties
        )
        async for chunk in features:
            yield chunk
        await session.commit()
    finally:
        # Also on GeneratorExit (the client left) and under a cancelled task: the
        # transaction is rolled back and the connection returned before this returns.
        await finish(_release(session, connection, features))


_DISCARD = frozenset({TransactionStatus.ACTIVE, TransactionStatus.UNKNOWN})


async def _release(
    session: AsyncSession,
    connection: AsyncConnection | None,
    features: AsyncIterator[bytes] | None,
) -> None:
    """End a feature stream's session, however the stream ended.

    The COPY runs on the driver connection underneath SQLAlchemy, which does not see its
    state. A COPY left running (the stream stopped between two blocks) cannot be rolled
    back ("another command is already in progress") and closing ``features`` does not end
    it (the serializer does not close its inner COPY generator), so the connection is
    discarded: the server ends the COPY and the transaction. So is one psycopg already
    closed (a cancelled read), where a rollback would only raise.

    ``features`` stays referenced until the connection is dealt with, on purpose: it holds
    the COPY generator, and once that is dropped asyncio closes it in a task of its own,
    later, on whatever the connection is doing by then (psycopg's ``Copy.finish()`` sends
    a cancel and reads the rest of the COPY).
    """
    try:
        if connection is not None and not (connection.closed or connection.invalidated):
            raw = await connection.get_raw_connection()
            # UNKNOWN: psycopg closed it (a cancelled read whose cancel was cancelled too).
            if transaction_status(raw.dbapi_connection) in _DISCARD:
                await connection.invalidate()
    finally:
        try:
            await session.close()  # rolls back, or just returns an invalidated connection
        finally:
            if isinstance(features, AsyncGenerator):
                await features.aclose()


T = TypeVar("T")


async def read_in_autocommit(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """``work(session)`` on a session whose connection is in autocommit, for bounded reads
    of one statement each (under READ COMMITTED a statement sees the same snapshot either
    way): no BEGIN and ROLLBACK round trips, and the web timeouts stay in force. The
    session is closed to the end even when the request is cancelled."""
    session = sessions()
    try:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return await work(session)
    finally:
        await finish(session.close())


async def fetch_features(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    *,
    id_column: str | None,
    properties: Sequence[str] | None = None,
) -> list[bytes]:
    """The feature lines of a bounded result (a page, one feature, the k nearest), in
    memory, from one SELECT in autocommit (see the module)."""
    query = feature_spec(stmt, id_column=id_column, properties=properties).features_select()

    async def lines(session: AsyncSession) -> list[bytes]:
        result = await session.execute(query)
        return [line.encode() for line in result.scalars()]

    return await read_in_autocommit(sessions, lines)


async def page_response(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    *,
    id_column: str | None,
    properties: Sequence[str] | None = None,
    footer: Callable[[FeatureLines], bytes] | None = None,
) -> Response:
    """A bounded result as one FeatureCollection response; ``footer`` as for
    :func:`stream_response`."""
    lines = await fetch_features(sessions, stmt, id_column=id_column, properties=properties)
    tail = footer(FeatureLines.of(lines)) if footer else b""
    body = b'{"type":"FeatureCollection","features":[' + b",".join(lines) + b"]" + tail + b"}"
    return Response(body, media_type=GEOJSON)


async def stream_response(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    *,
    id_column: str | None,
    properties: Sequence[str] | None = None,
    collection: bool = True,
    footer: Callable[[FeatureLines], bytes] | None = None,
) -> Response:
    """A streaming response: a FeatureCollection (``collection``) or NDJSON.

    ``footer`` gives extra members (``,"numberReturned":...``) written after the features.
    """
    lines = _lines(sessions, stmt, id_column, properties)
    try:
        first = await anext(lines)
    except StopAsyncIteration:
        first = b""
    seen = FeatureLines()

    async def body() -> AsyncIterator[bytes]:
        if collection:
            yield b'{"type":"FeatureCollection","features":['
        pending = b""
        chunk = first
        while True:
            if chunk:
                seen.see(chunk)
                if collection:
                    joined = pending + chunk.replace(b"\n", b",")
                    pending, chunk = joined[-1:], joined[:-1]
                if chunk:
                    yield chunk
            try:
                chunk = await anext(lines)
            except StopAsyncIteration:
                break
        if collection:
            tail = b"" if pending == b"," else pending
            yield tail + b"]" + (footer(seen) if footer else b"") + b"}"

    media = GEOJSON if collection else NDJSON
    return _FeatureStream(body(), lines, media_type=media)


class _FeatureStream(StreamingResponse):
    """A StreamingResponse that closes its feature lines (and so its session) when it ends.

    Starlette neither closes an unfinished body iterator nor runs the background task
    after a ``ClientDisconnect``; this closes ``lines`` after the response in every case.
    """

    def __init__(
        self, content: AsyncIterator[bytes], lines: AsyncGenerator[bytes, None], *, media_type: str
    ) -> None:
        super().__init__(content, media_type=media_type)
        self._lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await finish(self._lines.aclose())
