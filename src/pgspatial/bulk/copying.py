"""One ``COPY ... FROM STDIN (FORMAT BINARY)`` fed batch by batch: check, write, account.

Errata 9 measured the ways into PostGIS for 100k polygons against a server-side ``COPY FROM``
file: ORM 12.1x, ``executemany`` 1.78x, text COPY 1.40x, binary COPY with EWKB sent as
``bytea`` 1.10x. Binary COPY it is: psycopg packs each row in C, and ``geometry_recv``
reads the EWKB as it is, with no hex or WKT on either side.

A :class:`CopySession` takes columnar batches, checks the spatial columns (vectorized, see
:mod:`pgspatial.bulk.vectorized`) and the integer ranges, writes the rows that pass, and
records the ones that do not. It also remembers which input row each COPY line came from,
so a row the database itself refuses (a unique key, a too-long string) is reported by its
input row number, like every other reject.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

from pgspatial.bulk.decoding import Decoded, decode_values
from pgspatial.bulk.plan import LoadPlan, int_range_problems
from pgspatial.bulk.report import RejectLog
from pgspatial.bulk.vectorized import check_geometries

__all__ = ["CopySession", "RowRefused", "copy_session"]

_FAST_BYTES = psycopg.adapters.get_dumper(bytes, PyFormat.BINARY)
_COPY_CONTEXT = re.compile(r"COPY [^\n]*?, line (\d+)(?:, column ([^:\n]+))?")
_ECHO = 60


class RowRefused(Exception):
    """A row that stops the whole load: a value psycopg cannot send, or a database refusal."""

    def __init__(self, row: int | None, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.row = row
        self.column = column
        self.reason = reason


def _echo(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _ECHO else text[:_ECHO] + "..."


class CopySession:
    """Feeds checked batches into an open binary COPY and keeps the counts."""

    def __init__(
        self,
        raw: psycopg.Connection[Any],
        plan: LoadPlan,
        log: RejectLog,
        *,
        keep_going: bool,
        source_names: Sequence[str] | None = None,
    ) -> None:
        self.raw = raw
        # how a reject report names each planned column's value: as the input named it
        self.source_names = list(source_names or (c.name for c in plan.columns))
        self.plan = plan
        self.log = log
        self.keep_going = keep_going
        self.rows_read = 0
        self.rows_loaded = 0
        self.rows_repaired = 0
        self.null_geometries = 0
        self._copy: psycopg.Copy | None = None
        # (first COPY line of a batch, its first input row, input offsets written or None)
        self._lines: list[tuple[int, int, npt.NDArray[np.intp] | None]] = []

    @property
    def rows_rejected(self) -> int:
        """Rows rejected so far (all of them, also beyond what the report lists)."""
        return self.log.count

    def add_batch(
        self,
        start: int,
        values: list[Sequence[Any]],
        decoded: Mapping[int, Decoded] | None = None,
    ) -> None:
        """Check and write one batch. ``start`` is the 1-based input number of its first row;
        ``values`` holds one sequence per planned column, geometries as given."""
        n = len(values[0]) if values else 0
        out: list[Sequence[Any]] = list(values)
        reasons: dict[int, list[tuple[str, str]]] = {}
        repaired: set[int] = set()
        for index, rule in self.plan.rules.items():
            ready = (decoded or {}).get(index) or decode_values(values[index])
            checked = check_geometries(ready, rule)
            out[index] = checked.ewkb
            self.null_geometries += int(ready.nulls.sum())
            repaired |= checked.repaired
            for i, reason in checked.rejected.items():
                reasons.setdefault(i, []).append((rule.column, reason))
        for index, column in enumerate(self.plan.columns):
            if column.spatial is None:
                for i, reason in int_range_problems(column, values[index]).items():
                    reasons.setdefault(i, []).append((column.name, reason))
        self.rows_read += n
        for i in sorted(reasons):
            self._log_reject(start + i, i, values, decoded, reasons[i])
        self.rows_repaired += len(repaired - reasons.keys())
        if self.log.count and not self.keep_going:
            return  # the load will be refused: keep checking, stop sending
        self._write(start, n, out, reasons.keys())

    def _log_reject(
        self,
        row: int,
        i: int,
        values: list[Sequence[Any]],
        decoded: Mapping[int, Decoded] | None,
        reasons: list[tuple[str, str]],
    ) -> None:
        columns = self.plan.columns
        attributes = {
            self.source_names[j]: values[j][i] for j, c in enumerate(columns) if c.spatial is None
        }
        geometry: object = None
        first = next(iter(self.plan.rules), None)
        if first is not None:
            ready = (decoded or {}).get(first)
            geometry = ready.originals[i] if ready is not None else values[first][i]
        self.log.add(
            row,
            "; ".join(reason for _, reason in reasons),
            column=reasons[0][0],
            attributes=attributes,
            geometry=geometry,
        )

    def _write(
        self, start: int, n: int, out: list[Sequence[Any]], rejected: Collection[int]
    ) -> None:
        assert self._copy is not None
        if rejected:
            keep = np.setdiff1d(np.arange(n), np.fromiter(rejected, np.intp, len(rejected)))
            columns: Sequence[Sequence[Any]] = [[c[i] for i in keep.tolist()] for c in out]
            self._lines.append((self.rows_loaded + 1, start, keep))
        else:
            columns = out
            self._lines.append((self.rows_loaded + 1, start, None))
        write = self._copy.write_row
        written = 0
        try:
            for row in zip(*columns, strict=True):
                write(row)
                written += 1
        except (TypeError, ValueError, OverflowError) as error:
            raise self._value_refusal(self.rows_loaded + written + 1, row, error) from None
        finally:
            self.rows_loaded += written

    def input_row(self, line: int) -> int | None:
        """The input row number that became COPY line ``line`` (1-based), if known."""
        for first_line, start, keep in reversed(self._lines):
            if line >= first_line:
                offset = line - first_line
                if keep is None:
                    return start + offset
                return start + int(keep[offset]) if offset < len(keep) else None
        return None

    def _value_refusal(self, line: int, row: Sequence[Any], error: Exception) -> RowRefused:
        """Name the column whose value psycopg could not send as the column's type."""
        transformer = Transformer(self.raw)
        for column, oid, value in zip(self.plan.columns, self.plan.send_oids, row, strict=True):
            if value is None:
                continue
            transformer.set_dumper_types([oid], pq.Format.BINARY)
            try:
                transformer.dump_sequence([value], [PyFormat.BINARY])
            except (TypeError, ValueError, OverflowError) as problem:
                return RowRefused(
                    self.input_row(line),
                    column.name,
                    f"{column.name} ({column.type_name}) cannot take {_echo(value)} "
                    f"({type(value).__name__}): {problem}. Convert the value in the rows, "
                    "or change the column's type.",
                )
        return RowRefused(self.input_row(line), None, f"a value cannot be sent: {error}")

    def database_refusal(self, error: psycopg.Error) -> RowRefused:
        """A RowRefused for an error PostgreSQL raised during the COPY."""
        diag = error.diag
        match = _COPY_CONTEXT.search(diag.context or "")
        row = self.input_row(int(match.group(1))) if match else None
        column = match.group(2) if match and match.group(2) else diag.column_name
        reason = diag.message_primary or str(error).strip()
        if diag.message_detail:
            reason += f" ({diag.message_detail})"
        prefix = f"{column}: " if column else ""
        return RowRefused(row, column, f"{prefix}the database refused the row: {reason}")


@contextmanager
def copy_session(
    raw: psycopg.Connection[Any],
    plan: LoadPlan,
    log: RejectLog,
    *,
    keep_going: bool,
    source_names: Sequence[str] | None = None,
) -> Iterator[CopySession]:
    """Open the binary COPY of ``plan`` on ``raw``; errors PostgreSQL raises become RowRefused.

    Leaving the block normally ends the COPY (its rows stay uncommitted until the caller's
    transaction commits); leaving it with an exception aborts the COPY.
    """
    session = CopySession(raw, plan, log, keep_going=keep_going, source_names=source_names)
    try:
        with raw.cursor() as cursor:
            # psycopg maps the bytea OID to a Python-level dumper (for its Binary wrapper);
            # the C dumper for bytes is several times faster per geometry.
            cursor.adapters.register_dumper(bytes, _FAST_BYTES)
            with cursor.copy(plan.copy_sql()) as copy:
                copy.set_types(plan.send_oids)
                session._copy = copy
                yield session
    except psycopg.Error as error:
        raise session.database_refusal(error) from None
