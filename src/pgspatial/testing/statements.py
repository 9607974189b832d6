"""Counting the SQL statements a block of code sends, for N+1 and re-fetch regressions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

__all__ = ["StatementCounter", "count_statements"]

Bindable = Engine | Connection | Session | AsyncEngine | AsyncConnection | AsyncSession


@dataclass
class StatementCounter:
    """The statements seen so far; ``count`` is how many round trips executed SQL."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of statements executed (an executemany counts once)."""
        return len(self.statements)


def _engine_of(bind: Bindable) -> Engine:
    if isinstance(bind, AsyncSession):
        sync_bind = bind.sync_session.get_bind()
        return sync_bind if isinstance(sync_bind, Engine) else sync_bind.engine
    if isinstance(bind, AsyncEngine | AsyncConnection):
        return bind.sync_engine
    if isinstance(bind, Session):
        session_bind = bind.get_bind()
        return session_bind if isinstance(session_bind, Engine) else session_bind.engine
    if isinstance(bind, Connection):
        return bind.engine
    return bind


@contextmanager
def count_statements(bind: Bindable, *, max_count: int | None = None) -> Iterator[StatementCounter]:
    """Count the statements executed through ``bind`` inside the block.

    Accepts an engine, connection or (async) session. With ``max_count``, the block fails
    with an AssertionError listing the statements when more than that many ran::

        with count_statements(session, max_count=0):
            [p.geom for p in parcels]   # no lazy re-fetch after commit
    """
    counter = StatementCounter()
    engine = _engine_of(bind)

    def record(*args: Any) -> None:
        counter.statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if max_count is not None and counter.count > max_count:
        listing = "\n".join(f"  {i + 1}. {s}" for i, s in enumerate(counter.statements))
        raise AssertionError(
            f"expected at most {max_count} SQL statement(s), {counter.count} ran:\n{listing}"
        )
