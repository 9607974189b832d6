"""Lifting the timeouts for one transaction, for long streaming reads and exports."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pgspatial.loaded import is_instance

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    from sqlalchemy.orm import Session

__all__ = ["LIFT_TIMEOUTS_SQL", "lift_timeouts", "lift_timeouts_async"]

#: ``set_config(..., true)`` is ``SET LOCAL``: it ends with the transaction, also through
#: PgBouncer in transaction mode, so other work on the connection keeps its limits.
LIFT_TIMEOUTS_SQL = (
    "SELECT set_config('statement_timeout', '0', true), "
    "set_config('idle_in_transaction_session_timeout', '0', true)"
)


def lift_timeouts(bind: Connection | Session) -> None:
    """Disable statement and idle-in-transaction timeouts until the current transaction ends.

    A streamed export with a slow consumer would otherwise be cancelled midway.
    """
    if is_instance(bind, "sqlalchemy.orm", "Session"):
        cast("Session", bind).connection().exec_driver_sql(LIFT_TIMEOUTS_SQL)
    else:
        cast("Connection", bind).exec_driver_sql(LIFT_TIMEOUTS_SQL)


async def lift_timeouts_async(bind: AsyncConnection | AsyncSession) -> None:
    """The asyncio twin of :func:`lift_timeouts`."""
    if is_instance(bind, "sqlalchemy.ext.asyncio", "AsyncSession"):
        connection = await cast("AsyncSession", bind).connection()
        await connection.exec_driver_sql(LIFT_TIMEOUTS_SQL)
    else:
        await cast("AsyncConnection", bind).exec_driver_sql(LIFT_TIMEOUTS_SQL)
