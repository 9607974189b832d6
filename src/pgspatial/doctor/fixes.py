"""``apply_safe_fixes``: run the fixes that cannot hurt a live database, and only those.

Safe means: ``ANALYZE`` (reads the table, takes a lock that lets reads and writes go on)
and ``CREATE INDEX CONCURRENTLY`` for a missing spatial index (builds without blocking
writes). Both run in autocommit, as CONCURRENTLY requires (errata 13), with no
statement_timeout and a bounded lock_timeout. A concurrent build that fails leaves an
INVALID index behind; it is checked with ``pg_index.indisvalid`` and dropped again, so a
failed fix leaves nothing behind. Everything else (DROP INDEX, VACUUM, ALTER ...) is only
printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from pgspatial.doctor.context import MARKER
from pgspatial.doctor.model import DoctorReport
from pgspatial.doctor.runner import audit_engine

__all__ = ["SAFE_STATEMENT", "AppliedFix", "apply_safe_fixes"]

#: The only statements ``apply_safe_fixes`` runs; anything else is refused.
SAFE_STATEMENT = re.compile(
    r"^(ANALYZE\s+[^\s;]+|CREATE INDEX CONCURRENTLY\s+(?P<index>[^\s;]+)\s+ON\s+"
    r"(?P<table>[^\s;]+)\s+USING\s+gist\s+\([^;]+\));$",
    re.IGNORECASE,
)
_LOCK_TIMEOUT = "30s"


@dataclass(frozen=True)
class AppliedFix:
    """One safe fix that ran: the statement, whether it worked, and what happened."""

    check: str
    statement: str
    ok: bool
    message: str
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        """As the JSON document's ``applied_fixes`` items."""
        data = asdict(self)
        data["duration_ms"] = round(self.duration_ms, 1)
        return data


def _index_validity(connection: Connection, table: str, index: str) -> bool | None:
    """``indisvalid`` of ``index`` in the schema of ``table`` (None: no such index)."""
    schema = table.rsplit(".", 1)[0] if "." in table else None
    row = connection.execute(
        text(
            f"{MARKER} SELECT i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :name AND n.nspname = coalesce(:schema, current_schema())"
        ),
        {"name": index.strip('"').replace('""', '"'), "schema": schema and schema.strip('"')},
    ).first()
    return None if row is None else bool(row[0])


def _drop_invalid(connection: Connection, table: str, index: str) -> str:
    schema = table.rsplit(".", 1)[0] + "." if "." in table else ""
    if _index_validity(connection, table, index) is False:
        connection.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {schema}{index}"))
        return f"; the INVALID index it left was dropped again ({schema}{index})"
    return ""


def _run(connection: Connection, statement: str) -> tuple[bool, str]:
    match = SAFE_STATEMENT.match(statement.strip())
    if match is None:  # pragma: no cover - only safe findings get here
        return False, "refused: not an ANALYZE or CREATE INDEX CONCURRENTLY statement"
    index, table = match.group("index"), match.group("table")
    try:
        connection.execute(text(statement.strip().rstrip(";")))
    except DBAPIError as error:
        diag = getattr(error.orig, "diag", None)
        message = str(getattr(diag, "message_primary", None) or error.orig).strip()
        cleanup = _drop_invalid(connection, table, index) if index else ""
        return False, f"failed: {message}{cleanup}; run it again when the table is quieter"
    if index is None:
        return True, "statistics gathered"
    if _index_validity(connection, table, index) is not True:
        cleanup = _drop_invalid(connection, table, index)
        return False, f"the concurrent build left the index INVALID{cleanup}; run it again"
    return True, "index built and valid (pg_index.indisvalid)"


def apply_safe_fixes(
    bind: Engine | URL | str | Any, report: DoctorReport, *, checks: Sequence[str] | None = None
) -> list[AppliedFix]:
    """Run the report's safe fixes (optionally only those of ``checks``), in report order.

    Each statement runs once even when several findings share it. Returns what happened to
    each; a failure does not stop the others.
    """
    pending: dict[str, str] = {}
    for result, finding in report.safe_fixes():
        if finding.fix and (not checks or result.id in checks):
            pending.setdefault(finding.fix.strip(), result.id)
    if not pending:
        return []
    engine = audit_engine(bind)
    applied: list[AppliedFix] = []
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text("SELECT set_config('statement_timeout', '0', false), "
                     "set_config('lock_timeout', :lock, false)"),
                {"lock": _LOCK_TIMEOUT},
            )  # fmt: skip
            for statement, check in pending.items():
                started = time.perf_counter()
                ok, message = _run(connection, statement)
                applied.append(
                    AppliedFix(
                        check=check,
                        statement=statement,
                        ok=ok,
                        message=message,
                        duration_ms=(time.perf_counter() - started) * 1000,
                    )
                )
    finally:
        engine.dispose()
    return applied
