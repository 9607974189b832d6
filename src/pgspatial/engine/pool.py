"""Pool hygiene: a connection is only handed out when its server session is idle.

:func:`install_pool_guards` (called by :func:`pgspatial.create_engine` and
:func:`pgspatial.create_async_engine` on every engine they make) adds three listeners:

- ``checkin``: a connection coming back in any transaction status but IDLE (inside a
  transaction, failed, or with a command still running) is closed instead of pooled;
- ``checkout``: one found in such a state when it is handed out raises
  ``DisconnectionError``, so the pool discards it and hands out another (SQLAlchemy's
  "pessimistic disconnect handling" pattern; this is also the only check when
  ``pool_pre_ping`` is off);
- ``handle_error`` during pre-ping: psycopg refusing the ping because the connection is in
  a transaction ("can't change 'autocommit' now: connection in transaction status
  INTRANS") becomes ``DisconnectionError`` for that connection alone, instead of a 500 for
  the request that happened to check it out. The pre-ping runs *before* the ``checkout``
  event, so without this the ``checkout`` guard would never see such a connection.

Why a connection can be dirty although the pool rolls back on return: reset-on-return
runs in the task that closes the session, and it does run and leave the connection IDLE.
What dirtied connections (client disconnects mid-stream, see
:mod:`pgspatial.service.streaming`) was code running on the connection *after* that: async
generators holding a psycopg COPY that nobody closed, finalized later by asyncio's
garbage-collection hook in tasks of their own, whose ``Copy.finish()`` sends a cancel and
reads the rest of the COPY on a connection that is back in the pool or already serves
another request. A cancelled rollback is not the escape route on SQLAlchemy 2.1: a
cancellation during reset invalidates the record instead of returning it. The service
now closes its sessions deterministically; these guards keep the pool safe from any
other code that leaves a connection busy behind SQLAlchemy's back.

:func:`finish` runs cleanup (closing a session) to completion even when the calling task
is being cancelled, which is what happens to a request whose client went away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event, exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

__all__ = ["finish", "install_pool_guards", "transaction_status"]

T = TypeVar("T")


def transaction_status(dbapi_connection: Any) -> TransactionStatus | None:
    """psycopg's transaction status of a pooled DBAPI connection (None: not psycopg 3).

    Takes what pool events receive: the psycopg connection itself (sync) or SQLAlchemy's
    adapter around it (async). A closed connection reports UNKNOWN.
    """
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    if not isinstance(driver, psycopg.BaseConnection):
        return None
    return TransactionStatus(driver.info.transaction_status)


def _busy(dbapi_connection: Any) -> TransactionStatus | None:
    """The status when it is not IDLE (None when idle or not psycopg)."""
    status = transaction_status(dbapi_connection)
    return None if status is None or status == TransactionStatus.IDLE else status


def install_pool_guards(engine: Engine) -> None:
    """Never pool or hand out a connection whose session is not idle (see the module)."""

    def on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # None when the connection was invalidated on its way back.
        if dbapi_connection is not None and (status := _busy(dbapi_connection)):
            record.invalidate(
                exc.DisconnectionError(f"connection returned in transaction status {status.name}")
            )

    def on_checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        if status := _busy(dbapi_connection):
            raise exc.DisconnectionError(
                f"pooled connection in transaction status {status.name}; replacing it"
            )

    def on_error(context: ExceptionContext) -> None:
        # Only the pre-ping of a pooled connection, and only psycopg's "wrong state" error:
        # the ping itself ("SELECT 1" after switching autocommit on) cannot be at fault.
        if (
            context.is_pre_ping
            and not context.is_disconnect
            and isinstance(context.original_exception, psycopg.ProgrammingError)
        ):
            raise exc.DisconnectionError(
                f"pre-ping refused ({context.original_exception}); replacing the connection"
            )

    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "checkout", on_checkout)
    # First, so that the error translation (also handle_error) never sees these.
    event.listen(engine, "handle_error", on_error, insert=True)


async def finish(cleanup: Awaitable[T]) -> T:
    """Await ``cleanup`` to its end even if the calling task is cancelled meanwhile.

    It runs in a task of its own, shielded from anyio cancel scopes (Starlette cancels a
    streaming response's scope when the client disconnects) and from plain
    ``Task.cancel()``; a cancellation that arrives meanwhile is re-raised once the cleanup
    is done, so the caller never returns before the connection is back in the pool.
    """
    import anyio  # only async callers get here (the sync engines never import it)

    task = asyncio.ensure_future(cleanup)
    cancelled: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while True:
            try:
                result = await asyncio.shield(task)
                break
            except asyncio.CancelledError as error:
                if task.done():  # the cleanup itself was cancelled, not us
                    raise
                cancelled = error
    if cancelled is not None:
        raise cancelled
    return result
