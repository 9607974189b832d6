"""Read-replica routing as SQLAlchemy intends it: a ``Session.get_bind()`` override.

- Writes go to the primary: flushes, ``insert/update/delete`` (also inside a CTE of a
  ``select``), ``text()`` DML and ``SELECT ... INTO``, ``SELECT ... FOR UPDATE/SHARE``, calls
  of functions a standby refuses (``nextval``, ...), and everything inside
  ``session.primary()``.
- Reads go to the replicas round-robin; a replica that does not answer is skipped for a
  while (and the primary serves when none answers). A read that fails because its replica
  went away is run again, on another replica or the primary.
- Read-your-writes: once a session has written, its reads stay on the primary until it
  closes (``close()`` or ``reset()``).
- A read cancelled on a replica by a recovery conflict is retried once; a second conflict
  raises :class:`~pgspatial.errors.ReplicaConflict`. This holds for ``execute``, ``scalar``
  and ``scalars`` (and the ORM loads built on them), sync and async.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, TextClause, exc
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select, visitors
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import CompoundSelect, TextualSelect
from sqlalchemy.util.concurrency import in_greenlet

try:
    from sqlalchemy.util.concurrency import await_ as _await
except ImportError:  # SQLAlchemy 2.0 names it await_only
    from sqlalchemy.util.concurrency import await_only as _await

from pgspatial.errors import ReplicaConflict

__all__ = ["ReplicaSet", "RoutingSession"]

_READ_ONLY_TEXT = re.compile(r"^\s*(select|show|explain|values|table)\b", re.IGNORECASE)
# ``into``: SELECT ... INTO creates a table. The functions write (nextval, setval), change
# session state the session's later statements on the primary would not see (set_config),
# need a transaction id (txid_current, pg_current_xact_id), signal the primary's listeners
# (pg_notify), or take locks that mean nothing on another server (pg_advisory_*): a standby
# refuses most of them, and the rest belong with the writes.
_WRITE_FUNCTIONS = (
    "nextval",
    "setval",
    "set_config",
    "pg_notify",
    "txid_current",
    "pg_current_xact_id",
)
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|create|alter|drop|truncate|grant|revoke|copy|vacuum|"
    r"refresh|lock|into|" + "|".join(_WRITE_FUNCTIONS) + r"|pg_advisory\w*)\b"
    r"|\bfor\s+(update|share|no\s+key|key)\b",
    re.IGNORECASE,
)
_READ_WITH = re.compile(r"^\s*with\b", re.IGNORECASE)
# Errors that mean the replica itself is unavailable rather than the statement wrong:
# admin_shutdown, crash_shutdown, cannot_connect_now (starting up, shutting down).
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})

_T = TypeVar("_T")


def is_read_only_text(sql: str) -> bool:
    """Whether textual SQL is safe to send to a replica (a plain read, no locking)."""
    if _WRITE_WORDS.search(sql):
        return False
    return bool(_READ_ONLY_TEXT.match(sql) or _READ_WITH.match(sql))


class ReplicaSet:
    """Replica engines picked round-robin, skipping any that failed recently."""

    def __init__(
        self, engines: Sequence[Engine], *, retry_after_s: float = 5.0, probe_ttl_s: float = 2.0
    ) -> None:
        self.engines = tuple(engines)
        self.retry_after_s = retry_after_s
        self.probe_ttl_s = probe_ttl_s
        self._cycle = itertools.cycle(range(len(self.engines))) if self.engines else None
        self._down_until: dict[int, float] = {}
        self._healthy_until: dict[int, float] = {}
        self._lock = threading.Lock()

    def _healthy(self, index: int) -> bool:
        now = time.monotonic()
        if self._down_until.get(index, 0.0) > now:
            return False
        if self._healthy_until.get(index, 0.0) > now:
            return True
        if self.engines[index].dialect.is_async and not in_greenlet():
            # AsyncSession.get_bind() called outside a statement: no I/O is possible here.
            # Trust the replica; RoutingSession skips it if the statement finds it gone.
            return True
        try:
            with self.engines[index].connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except exc.DBAPIError:
            self._down_until[index] = now + self.retry_after_s
            return False
        self._healthy_until[index] = now + self.probe_ttl_s
        return True

    def pick(self) -> Engine | None:
        """The next answering replica, or None when none answers."""
        if self._cycle is None:
            return None
        with self._lock:
            order = [next(self._cycle) for _ in self.engines]
        for index in order:
            if self._healthy(index):
                return self.engines[index]
        return None

    def __contains__(self, engine: object) -> bool:
        """Whether ``engine`` is one of these replicas (by identity)."""
        return any(candidate is engine for candidate in self.engines)

    def mark_down(self, engine: Engine) -> None:
        """Skip ``engine`` for ``retry_after_s`` (after a connection failure)."""
        for index, candidate in enumerate(self.engines):
            if candidate is engine:
                self._down_until[index] = time.monotonic() + self.retry_after_s
                self._healthy_until.pop(index, None)


def _is_write(clause: Any) -> bool:
    """Whether a statement must run on the primary (unknown kinds do, to be safe)."""
    if clause is None:
        return False  # session.connection() without a statement: a read connection
    if isinstance(clause, TextualSelect):
        return not is_read_only_text(str(clause.element))
    if isinstance(clause, TextClause):
        return not is_read_only_text(clause.text)
    if isinstance(clause, Select | CompoundSelect):
        # The whole tree: DML in a CTE (``WITH x AS (DELETE ...) SELECT``), a locking
        # subquery, a nextval() in the columns all make the statement a write.
        return any(_element_writes(element) for element in visitors.iterate(clause))
    return True


def _element_writes(element: Any) -> bool:
    if isinstance(element, UpdateBase):
        return True
    if isinstance(element, Select):
        return element._for_update_arg is not None
    if isinstance(element, FunctionElement):
        name = str(getattr(element, "name", "")).lower()
        return name in _WRITE_FUNCTIONS or name.startswith("pg_advisory")
    if isinstance(element, TextClause):
        return bool(_WRITE_WORDS.search(element.text))  # a fragment: only its words count
    return False


def _is_recovery_conflict(error: BaseException) -> bool:
    orig = getattr(error, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate in {"40001", "40P01"} and "conflict with recovery" in str(orig)


def _is_unavailable(error: exc.DBAPIError) -> bool:
    """Whether the server went away or refused the connection (not the statement's fault)."""
    if error.connection_invalidated:
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    # No SQLSTATE and no statement: the connection attempt itself failed (refused, timeout).
    return sqlstate in _UNAVAILABLE_SQLSTATES or (sqlstate is None and error.statement is None)


def _pause(seconds: float) -> None:
    """Sleep; under an AsyncSession (in SQLAlchemy's greenlet) without blocking the loop."""
    if in_greenlet():
        _await(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)


class RoutingSession(Session):
    """A Session that sends reads to replicas and everything else to the primary."""

    #: Pause before retrying a read cancelled by a recovery conflict. One change on the
    #: primary (a VACUUM) replays as several WAL records that each conflict with running
    #: queries, so an immediate retry is cancelled by the rest of the same change; measured
    #: on a local replica, 10 ms sufficed.
    conflict_retry_pause_s: float = 0.1

    def __init__(
        self,
        *args: Any,
        primary: Engine,
        replicas: ReplicaSet | None = None,
        analytics: Engine | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.primary_engine = primary
        self.replicas = replicas or ReplicaSet(())
        self.analytics_engine = analytics
        self._pinned: Engine | None = None  # primary() / analytics() blocks
        self._wrote = False
        self._replica: Engine | None = None
        self._last_bind: Engine | None = None  # where the latest statement was sent

    # -- routing ---------------------------------------------------------------------------

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Engine:
        """Choose the engine for one statement (SQLAlchemy calls this for every execute).

        Routing a write marks the session as having written (read-your-writes), also when
        called only to ask where a statement would go.
        """
        self._last_bind = self._route(clause)
        return self._last_bind

    def _route(self, clause: Any) -> Engine:
        if self._pinned is not None:
            return self._pinned
        if self._flushing or self._wrote or _is_write(clause):
            self._wrote = True
            return self.primary_engine
        if self._replica is None:
            self._replica = self.replicas.pick() or self.primary_engine
        return self._replica

    @contextmanager
    def primary(self) -> Iterator[RoutingSession]:
        """Send everything inside the block to the primary."""
        previous, self._pinned = self._pinned, self.primary_engine
        try:
            yield self
        finally:
            self._pinned = previous

    @contextmanager
    def analytics(self) -> Iterator[RoutingSession]:
        """Send the block to the analytics engine (long statement_timeout, own pool)."""
        if self.analytics_engine is None:
            raise RuntimeError("This session factory was made without an analytics engine.")
        previous, self._pinned = self._pinned, self.analytics_engine
        try:
            yield self
        finally:
            self._pinned = previous

    @property
    def reads_from_primary(self) -> bool:
        """True once the session has written (read-your-writes) or is pinned to the primary."""
        return self._wrote or self._pinned is self.primary_engine

    # -- lifecycle ---------------------------------------------------------------------------

    def _end_transaction(self) -> None:
        self._replica = None

    def commit(self) -> None:
        """Commit; the next transaction may read from another replica."""
        super().commit()
        self._end_transaction()

    def rollback(self) -> None:
        """Roll back; the next transaction may read from another replica."""
        super().rollback()
        self._end_transaction()

    def close(self) -> None:
        """Close; the session forgets that it wrote."""
        super().close()
        self._end_transaction()
        self._wrote = False

    def reset(self) -> None:
        """Reset (close without ending the session's use); it forgets that it wrote."""
        super().reset()
        self._end_transaction()
        self._wrote = False

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """Execute; a read a replica could not serve is run again (see :meth:`_on_replica`)."""
        return self._on_replica(
            lambda: super(RoutingSession, self).execute(statement, *args, **kwargs)
        )

    def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """``Session.scalar`` with the replica retry of :meth:`execute`.

        SQLAlchemy's own ``scalar``/``scalars`` do not go through ``execute``.
        """
        return self._on_replica(
            lambda: super(RoutingSession, self).scalar(statement, *args, **kwargs)
        )

    def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """``Session.scalars`` with the replica retry of :meth:`execute`."""
        return self._on_replica(
            lambda: super(RoutingSession, self).scalars(statement, *args, **kwargs)
        )

    def _on_replica(self, run: Callable[[], _T]) -> _T:
        """Run a statement; when it was sent to a replica that failed it, run it once more.

        - A replica that refused the connection or dropped it is skipped for a while and
          the statement runs on the next replica (or the primary).
        - A read cancelled by a recovery conflict runs again; a second conflict raises
          :class:`ReplicaConflict`.

        A retry that must roll back the transaction (the replica's connection is aborted or
        dead) is not made while the session holds unflushed changes: rolling back would
        silently discard them, so the original error is raised instead.
        """
        self._last_bind = None
        try:
            return run()
        except exc.DBAPIError as error:
            replica = self._last_bind
            if replica is None or replica not in self.replicas:
                raise
            conflict = _is_recovery_conflict(error)
            if not conflict and not _is_unavailable(error):
                raise
            if not conflict:
                self.replicas.mark_down(replica)
            if error.statement is not None or error.connection_invalidated:
                if self.new or self.dirty or self.deleted:
                    raise
                super().rollback()
            if conflict:
                _pause(self.conflict_retry_pause_s)
            self._replica = None
        try:
            return run()
        except exc.DBAPIError as again:
            if _is_recovery_conflict(again):
                raise ReplicaConflict(
                    "A read on a replica was cancelled twice by recovery conflicts (the "
                    "replica was replaying changes that removed rows the query needed). "
                    "Run it on the primary (session.primary()) or raise the replica's "
                    "max_standby_streaming_delay / enable hot_standby_feedback."
                ) from again
            raise
