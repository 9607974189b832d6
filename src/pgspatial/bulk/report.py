"""What a bulk load reports: counts, the rejected rows and why, and the NDJSON reject file.

A load never fails silently and never drops a row without saying so. Every rejected row is
counted; the first :data:`MAX_LISTED_REJECTS` are kept in :attr:`LoadReport.rejects` (a
million bad rows must not become a million objects in memory), and when a report file is
in use every one of them is written there, one JSON object per line, with its input row
number, the reason (the message :func:`pgspatial.geometry.parse_geometry` gives), its
attributes and its geometry as WKT or hex, so it can be fixed and loaded again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from pgspatial.loaded import is_instance

__all__ = [
    "MAX_LISTED_REJECTS",
    "LoadReport",
    "OnInvalid",
    "Reject",
    "RejectLog",
    "describe_geometry",
    "rejection_message",
]

OnInvalid = Literal["reject", "skip", "repair"]
"""What a load does with a row it may not store (see :func:`pgspatial.bulk.bulk_load`)."""

MAX_LISTED_REJECTS = 100
"""How many rejected rows a :class:`LoadReport` lists; all of them are counted."""

_MESSAGE_REJECTS = 20  # how many of those an exception message quotes


@dataclass(frozen=True)
class Reject:
    """One rejected input row: its 1-based number in the input, the column, and why."""

    row: int
    reason: str
    column: str | None = None


@dataclass(frozen=True)
class LoadReport:
    """The outcome of a load (also attached to :class:`~pgspatial.errors.LoadRejected`).

    ``rows_per_s`` is ``rows_read / elapsed_s``: the rate at which input was processed.
    ``report_path`` is the NDJSON file holding every rejected row, when one was written.
    ``created`` is true when the load created the table (``pgspatial load``);
    ``indexes_rebuilt`` names the indexes of an empty table that were dropped for the COPY
    and built again after it (:mod:`pgspatial.bulk.indexes`).
    """

    table: str
    rows_read: int
    rows_loaded: int
    rows_repaired: int
    rows_rejected: int
    rejects: tuple[Reject, ...]
    elapsed_s: float
    rows_per_s: float
    report_path: Path | None
    analyzed: bool
    created: bool = False
    indexes_rebuilt: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for people: rows loaded, repaired, skipped, elapsed time and rate."""
        where = f" (rejected rows: {self.report_path})" if self.report_path else ""
        rebuilt = (
            f"; built after the rows: {', '.join(self.indexes_rebuilt)}"
            if self.indexes_rebuilt
            else ""
        )
        return (
            f"loaded {self.rows_loaded:,} rows into {self.table}"
            f"{' (new table)' if self.created else ''}: {self.rows_repaired:,} repaired, "
            f"{self.rows_rejected:,} skipped, {self.elapsed_s:.2f} s, "
            f"{self.rows_per_s:,.0f} rows/s{where}{rebuilt}"
        )


def rejection_message(report: LoadReport, mode: OnInvalid) -> str:
    """The text of the :class:`~pgspatial.errors.LoadRejected` for a refused load."""
    lines = [
        f"{report.table}: {report.rows_rejected:,} of {report.rows_read:,} rows cannot be "
        f"stored ({mode} mode), so nothing was loaded:"
    ]
    lines += [f"  row {r.row}: {r.reason}" for r in report.rejects[:_MESSAGE_REJECTS]]
    more = report.rows_rejected - min(len(report.rejects), _MESSAGE_REJECTS)
    if more > 0:
        where = f"all are in {report.report_path}" if report.report_path else "see .report"
        lines.append(f"  ... and {more:,} more ({where}).")
    lines.append(
        "Fix those rows, or load the others and set these aside with on_invalid='skip' "
        "(--on-invalid skip), which writes them to a report file"
        + ("" if mode == "repair" else "; on_invalid='repair' applies ST_MakeValid")
        + "."
    )
    return "\n".join(lines)


def describe_geometry(value: object) -> Any:
    """A geometry input as JSON can hold it: WKT for Shapely, hex for bytes, text as is."""
    if value is None or isinstance(value, str | int | float | Mapping):
        return value
    if isinstance(value, BaseGeometry):
        return str(shapely.to_wkt(value, rounding_precision=-1))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if is_instance(value, "geoalchemy2.elements", "WKBElement"):
        data = value.data  # type: ignore[attr-defined]
        return data if isinstance(data, str) else bytes(data).hex()
    if is_instance(value, "geoalchemy2.elements", "WKTElement"):
        return str(value.data)  # type: ignore[attr-defined]
    return repr(value)


def _json_default(value: object) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)  # Decimal, and anything else orjson does not know


@dataclass
class RejectLog:
    """Collects the rejects of one load, and writes them to an NDJSON file when asked.

    The file is written as ``<name>.partial`` and renamed by :meth:`finish`, so it is
    either complete or absent. ``path`` None with ``temp_file`` true makes a temp file on
    the first reject (skip mode needs the rows somewhere).
    """

    path: Path | None = None
    temp_file: bool = False
    count: int = 0
    listed: list[Reject] = field(default_factory=list)
    _out: IO[bytes] | None = None
    _partial: Path | None = None

    def add(
        self,
        row: int,
        reason: str,
        *,
        column: str | None,
        attributes: Mapping[str, Any],
        geometry: object,
    ) -> None:
        """Record one rejected row (and write it to the file, if there is one)."""
        self.count += 1
        if len(self.listed) < MAX_LISTED_REJECTS:
            self.listed.append(Reject(row=row, reason=reason, column=column))
        out = self._file()
        if out is not None:
            record = {
                "row": row,
                "column": column,
                "reason": reason,
                "attributes": dict(attributes),
                "geometry": describe_geometry(geometry),
            }
            out.write(orjson.dumps(record, default=_json_default) + b"\n")

    @property
    def final_path(self) -> Path | None:
        """Where the reject file is (or will be once finished); None when there is none."""
        if self.temp_file and self._partial is None:
            return None
        return self.path

    def _file(self) -> IO[bytes] | None:
        if self._out is not None:
            return self._out
        if self.path is None:
            if not self.temp_file:
                return None
            handle, name = tempfile.mkstemp(prefix="pgspatial-rejects-", suffix=".ndjson")
            os.close(handle)
            self.path = Path(name)
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._out = open(self._partial, "wb")  # noqa: SIM115 - closed by finish()
        return self._out

    def finish(self, *, keep: bool) -> Path | None:
        """Close the file: renamed into place when ``keep``, else removed. Returns its path."""
        if self.path is not None and not self.temp_file and keep:
            self._file()  # an explicit path always gets a file, even an empty one
        if self._out is None:
            return None
        self._out.close()
        self._out = None
        assert self._partial is not None
        assert self.path is not None
        if keep:
            os.replace(self._partial, self.path)
            return self.path
        self._partial.unlink(missing_ok=True)
        if self.temp_file:
            self.path.unlink(missing_ok=True)
        return None
