"""Read-replica routing as SQLAlchemy intends it: a ``Session.get_bind()`` override.

- Writes go to the primary: flushes, ``insert/update/delete``, ``text()`` DML, ``SELECT ...
  FOR UPDATE/SHARE``, and everything inside ``session.primary()``.
- Reads go to the replicas round-robin; a replica that does not answer is skipped for a
  while (and the primary serves when none answers).
- Read-your-writes: once a session has written, its reads stay on the primary until it
  closes.
- A read cancelled on a replica by a recovery conflict is retried once; a second conflict
  raises :class:`~pgspatial.errors.ReplicaConflict`.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, TextClause, exc
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import CompoundSelect, TextualSelect

from pgspatial.errors import ReplicaConflict

__all__ = ["ReplicaSet", "RoutingSession"]

_READ_ONLY_TEXT = re.compile(r"^\s*(select|show|explain|values|table)\b", re.IGNORECASE)
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|create|alter|drop|truncate|grant|revoke|copy|vacuum|"
    r"refresh|lock|nextval|setval|set_config|pg_advisory)\b|\bfor\s+(update|share|no\s+key|key)\b",
    re.IGNORECASE,
)
_READ_WITH = re.compile(r"^\s*with\b", re.IGNORECASE)


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

    def mark_down(self, engine: Engine) -> None:
        """Skip ``engine`` for ``retry_after_s`` (after a connection failure)."""
        for index, candidate in enumerate(self.engines):
            if candidate is engine:
                self._down_until[index] = time.monotonic() + self.retry_after_s
                self._healthy_until.pop(index, None)


def _is_write(clause: Any) -> bool:
    """Whether a statement must run on the primary (unknown kinds do, to be safe)."""
    if clause is None:
        return False  # session.connection(): the first statement decides
    if isinstance(clause, Select):
        return clause._for_update_arg is not None
    if isinstance(clause, CompoundSelect):
        return False  # UNION ... cannot lock rows
    if isinstance(clause, TextualSelect):
        return not is_read_only_text(str(clause.element))
    if isinstance(clause, TextClause):
        return not is_read_only_text(clause.text)
    return True


def _is_recovery_conflict(error: BaseException) -> bool:
    orig = getattr(error, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate in {"40001", "40P01"} and "conflict with recovery" in str(orig)


class RoutingSession(Session):
    """A Session that sends reads to replicas and everything else to the primary."""

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

    # -- routing ---------------------------------------------------------------------------

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Engine:
        """Choose the engine for one statement (SQLAlchemy calls this for every execute)."""
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

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """Execute; a read cancelled by a replica's recovery conflict is retried once."""
        try:
            return super().execute(statement, *args, **kwargs)
        except exc.DBAPIError as error:
            replica = self._replica
            if replica is None or replica is self.primary_engine:
                raise
            if isinstance(error, exc.OperationalError) and error.connection_invalidated:
                self.replicas.mark_down(replica)
            elif not _is_recovery_conflict(error):
                raise
            super().rollback()
            self._replica = None
            try:
                return super().execute(statement, *args, **kwargs)
            except exc.DBAPIError as again:
                if _is_recovery_conflict(again):
                    raise ReplicaConflict(
                        "A read on a replica was cancelled twice by recovery conflicts (the "
                        "replica was replaying changes that removed rows the query needed). "
                        "Run it on the primary (session.primary()) or raise the replica's "
                        "max_standby_streaming_delay / enable hot_standby_feedback."
                    ) from again
                raise
