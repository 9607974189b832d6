"""Features built by PostgreSQL, streamed to the client with Python only moving bytes.

Every feature endpoint runs :func:`pgspatial.stream_features_async` in NDJSON mode (one
``{"type":"Feature",...}`` line per row, straight from COPY) and wraps the lines in the
envelope it needs: a GeoJSON FeatureCollection (with OGC ``numberReturned`` and ``links``
written *after* the features, once they are counted), NDJSON as is, or a single Feature.

The first chunk is read before the response starts, so errors in the statement (a bad
column, a database that is down) still become a proper 4xx/5xx; the session and its
transaction live as long as the stream, and are closed when it ends or the client leaves.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from pgspatial import stream_features_async

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
    async with sessions() as session, session.begin():
        async for chunk in stream_features_async(
            session, stmt, output_format="ndjson", id_column=id_column, properties=properties
        ):
            yield chunk


async def fetch_features(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    *,
    id_column: str | None,
    properties: Sequence[str] | None = None,
) -> list[bytes]:
    """All feature lines of a small result (one feature, a page of k), in memory."""
    data = b"".join([c async for c in _lines(sessions, stmt, id_column, properties)])
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
    return StreamingResponse(body(), media_type=media, background=BackgroundTask(lines.aclose))
