"""Features built by PostgreSQL, streamed to the client with Python only moving bytes.

Every feature endpoint runs :func:`pgspatial.stream_features_async` in NDJSON mode (one
``{"type":"Feature",...}`` line per row, straight from COPY) and wraps the lines in the
envelope it needs: a GeoJSON FeatureCollection (with OGC ``numberReturned`` and ``links``
written *after* the features, once they are counted), NDJSON as is, or a single Feature.

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

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Any

import orjson
from psycopg.pq import TransactionStatus
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from pgspatial import stream_features_async
from pgspatial.engine.pool import finish, transaction_status

__all__ = ["GEOJSON", "NDJSON", "FeatureLines", "fetch_features", "stream_response"]

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


async def fetch_features(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    *,
    id_column: str | None,
    properties: Sequence[str] | None = None,
) -> list[bytes]:
    """All feature lines of a small result (one feature, a page of k), in memory."""
    async with aclosing(_lines(sessions, stmt, id_column, properties)) as lines:
        data = b"".join([c async for c in lines])
    return [line for line in data.split(b"\n") if line]


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
