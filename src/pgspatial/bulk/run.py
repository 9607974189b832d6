"""One load as one transaction: the COPY, ANALYZE, and a report or a refusal, never half.

Everything a load writes (the table it may create, the COPY, the index builds, ANALYZE's
statistics) happens in one transaction, so a load that is refused, fails or is killed
(SIGKILL included: the server rolls back a transaction whose client vanished) leaves the
database exactly as it was. Statement and idle-in-transaction timeouts are lifted for that
transaction only (``SET LOCAL``): a large load must not be cancelled halfway by limits
meant for web requests.

The load works on the psycopg connection: under a SQLAlchemy Engine or Connection, or one
handed over directly (``pgspatial load`` does, and so never imports SQLAlchemy). When
handed a connection already in a transaction, the load runs in a SAVEPOINT of it and
leaves the commit to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import psycopg
from psycopg import sql

from pgspatial.bulk.copying import CopySession, RowRefused, copy_session
from pgspatial.bulk.indexes import DeferredIndexes, defer_indexes
from pgspatial.bulk.plan import LoadPlan
from pgspatial.bulk.report import LoadReport, OnInvalid, RejectLog, rejection_message
from pgspatial.engine.timeouts import LIFT_TIMEOUTS_SQL
from pgspatial.errors import ConfigError, LoadRejected
from pgspatial.loaded import is_instance

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = ["MODES", "LoadRun", "check_mode"]

MODES: tuple[OnInvalid, ...] = ("reject", "skip", "repair")


def check_mode(on_invalid: str) -> OnInvalid:
    """``on_invalid`` if it is a known mode, else a ConfigError listing them."""
    for mode in MODES:
        if on_invalid == mode:
            return mode
    raise ConfigError(f"on_invalid={on_invalid!r} is not a mode; use one of {', '.join(MODES)}.")


def _check_bind(bind: object) -> None:
    if isinstance(bind, psycopg.Connection):
        return
    if is_instance(bind, "sqlalchemy", "Engine") or is_instance(bind, "sqlalchemy", "Connection"):
        return
    raise ConfigError(
        f"bulk loads need a SQLAlchemy Engine or Connection, or a psycopg Connection; got {bind!r}."
    )


@contextmanager
def _transaction(bind: Any) -> Iterator[psycopg.Connection[Any]]:
    """A transaction of its own; a savepoint inside a caller's transaction."""
    if isinstance(bind, psycopg.Connection):
        with bind.transaction():  # BEGIN/COMMIT, or a SAVEPOINT when already in one
            yield bind
        return
    # a SQLAlchemy bind: SQLAlchemy is loaded already
    from pgspatial.serialize.copyout import driver_connection

    if is_instance(bind, "sqlalchemy", "Engine"):
        with cast("Engine", bind).begin() as connection:
            yield driver_connection(connection)
    elif cast("Connection", bind).in_transaction():
        with bind.begin_nested():
            yield driver_connection(bind)
    else:
        with bind.begin():
            yield driver_connection(bind)


class LoadRun:
    """The bookkeeping of one load: transaction, reject log, COPY session, report."""

    def __init__(
        self,
        bind: Engine | Connection | psycopg.Connection[Any],
        *,
        on_invalid: OnInvalid,
        report_path: str | Path | None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        _check_bind(bind)
        self.bind = bind
        self.mode = on_invalid
        self.progress = progress
        self.log = RejectLog(
            path=Path(report_path) if report_path is not None else None,
            temp_file=report_path is None and on_invalid == "skip",
        )
        self.table = "?"
        self.session: CopySession | None = None
        self.analyzed = False
        self.created = False
        self.deferred: DeferredIndexes | None = None
        self.failed = False
        self._started = time.perf_counter()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """The load's transaction (timeouts lifted); commits when the block succeeds.

        The reject file is kept when the load ends with a report (success, or LoadRejected)
        and removed otherwise.
        """
        keep = False
        try:
            with _transaction(self.bind) as connection:
                connection.execute(LIFT_TIMEOUTS_SQL)
                yield connection
            keep = True
        except LoadRejected:
            keep = True
            raise
        except RowRefused as refused:
            keep = True
            self.failed = True
            self.log.add(refused.row or 0, refused.reason, column=refused.column,
                         attributes={}, geometry=None)  # fmt: skip
            raise LoadRejected(self._refused_message(refused), report=self.report()) from None
        finally:
            self.log.finish(keep=keep)

    def copy(
        self,
        raw: psycopg.Connection[Any],
        plan: LoadPlan,
        source_names: Sequence[str] | None = None,
    ) -> AbstractContextManager[CopySession]:
        """The binary COPY for ``plan`` inside the load's transaction; ``source_names`` are
        the input's names of the planned columns (for reject reports)."""
        self.table = plan.target.qualified_name

        @contextmanager
        def session() -> Iterator[CopySession]:
            with copy_session(
                raw, plan, self.log, keep_going=self.mode == "skip", source_names=source_names
            ) as sink:
                self.session = sink
                yield sink

        return session()

    def batch_done(self) -> None:
        """Report progress (rows read so far) after a batch."""
        if self.progress is not None and self.session is not None:
            self.progress(self.session.rows_read)

    def refuse_if_rejected(self) -> None:
        """In reject and repair modes, raise LoadRejected when any row was rejected.

        Call it inside the COPY block, so the COPY is aborted rather than completed.
        """
        if self.log.count and self.mode != "skip":
            self.failed = True
            raise LoadRejected(rejection_message(self.report(), self.mode), report=self.report())

    def defer_indexes(self, connection: psycopg.Connection[Any], sql_name: str) -> None:
        """Drop the table's plain indexes until :meth:`finish` when it is empty (see
        :mod:`pgspatial.bulk.indexes`); call it before :meth:`copy`."""
        self.deferred = defer_indexes(connection, sql_name)

    def finish(self, connection: psycopg.Connection[Any], sql_name: str) -> None:
        """Build the deferred indexes again, then ANALYZE the table when rows were loaded;
        inside the transaction, so both commit with the rows."""
        if self.deferred is not None:
            self.deferred.rebuild(connection)
        if self.session is not None and self.session.rows_loaded:
            connection.execute(sql.SQL("ANALYZE {}").format(sql.SQL(sql_name)))
            self.analyzed = True

    def report(self) -> LoadReport:
        """The report as of now."""
        elapsed = time.perf_counter() - self._started
        session = self.session
        read = session.rows_read if session else 0
        return LoadReport(
            table=self.table,
            rows_read=read,
            rows_loaded=session.rows_loaded if session and not self.failed else 0,
            rows_repaired=session.rows_repaired if session else 0,
            rows_rejected=self.log.count,
            rejects=tuple(self.log.listed),
            elapsed_s=elapsed,
            rows_per_s=read / elapsed if elapsed > 0 else 0.0,
            report_path=self.log.final_path,
            analyzed=self.analyzed,
            created=self.created,
            indexes_rebuilt=self.deferred.names if self.deferred else (),
        )

    def _refused_message(self, refused: RowRefused) -> str:
        where = f"row {refused.row}" if refused.row else "a row"
        return (
            f"{self.table}, {where}: {refused.reason}\nThe load stopped there and nothing was "
            "loaded: a row the database or the driver refuses cannot be skipped. Fix the row "
            "(or the column's type) and load again."
        )
