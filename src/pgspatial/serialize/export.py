"""``export_table``: stream a whole table (or a bbox/filter of it) to a file, with progress.

The API behind ``pgspatial export``: the table is found through the live catalog (its
geometry column and primary key become the features' geometry and id), the total for the
progress bar comes from the planner's estimate, never ``COUNT(*)``, and the file appears
only when the export is complete (it is written beside the target and renamed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine, MetaData, Select, Table, select, text

from pgspatial.catalog import Catalog, SpatialTable
from pgspatial.errors import ConfigError
from pgspatial.serialize.copyout import compile_for_copy
from pgspatial.serialize.output import ExportFormat, stream_features

__all__ = ["estimate_rows", "export_prepared", "export_statement", "export_table", "parse_bbox"]


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """``"xmin,ymin,xmax,ymax"`` as four floats, or a ConfigError saying what is wrong."""
    parts = [p for p in value.replace(" ", ",").split(",") if p]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(
            f"--bbox takes four numbers xmin,ymin,xmax,ymax; got {value!r}."
        ) from None
    if len(numbers) != 4:
        raise ConfigError(f"--bbox takes four numbers xmin,ymin,xmax,ymax; got {len(numbers)}.")
    xmin, ymin, xmax, ymax = numbers
    if not (xmin < xmax and ymin < ymax):
        raise ConfigError(
            f"--bbox is inverted or empty: need xmin < xmax and ymin < ymax; got {value!r}."
        )
    return xmin, ymin, xmax, ymax


def _find(catalog: Catalog, name: str) -> SpatialTable:
    schema, _, table = name.rpartition(".")
    found = catalog.find(table, schema or "public")
    if found is None:
        known = ", ".join(t.qualified_name for t in catalog.readable_tables()) or "none"
        raise ConfigError(
            f"No spatial table {name!r} that this role can read; spatial tables: {known}."
        )
    return found


def export_statement(
    engine: Engine,
    table_name: str,
    *,
    bbox: Sequence[float] | None = None,
    bbox_srid: int = 4326,
    where: str | None = None,
) -> tuple[Select[Any], SpatialTable]:
    """The SELECT an export runs, and the catalog entry of its table.

    ``where`` is raw SQL for trusted operators (the command line); the Python API takes
    SQLAlchemy expressions instead.
    """
    live = _find(Catalog.load(engine), table_name)
    table = Table(live.name, MetaData(), schema=live.schema, autoload_with=engine)
    stmt = select(table)
    geometry = live.columns[0].name
    if bbox is not None:
        from pgspatial.predicates import in_bbox  # with its geometry parsing, only when asked

        stmt = stmt.where(in_bbox(table.c[geometry], bbox, srid=bbox_srid))
    if where:
        stmt = stmt.where(text(where))
    return stmt, live


def estimate_rows(engine: Engine, stmt: Select[Any]) -> int:
    """The planner's row estimate for ``stmt`` (no COUNT(*): that would read every row)."""
    sql, params = compile_for_copy(stmt, engine.dialect)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            row = cursor.fetchone()
    plan = row[0] if row else [{"Plan": {"Plan Rows": 0}}]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def export_table(
    engine: Engine,
    table_name: str,
    destination: Path | BinaryIO,
    *,
    output_format: ExportFormat = "geojson",
    bbox: Sequence[float] | None = None,
    where: str | None = None,
    precision: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Export a spatial table; returns the number of features written.

    ``progress`` is called with the number of features in each chunk as it is written.
    A ``Path`` destination is written to ``<name>.partial`` and renamed at the end, so a
    failed export leaves no half-written file behind.
    """
    stmt, live = export_statement(engine, table_name, bbox=bbox, where=where)
    return export_prepared(
        engine, stmt, live, destination, output_format=output_format, precision=precision,
        progress=progress,
    )  # fmt: skip


def export_prepared(
    engine: Engine,
    stmt: Select[Any],
    live: SpatialTable,
    destination: Path | BinaryIO,
    *,
    output_format: ExportFormat = "geojson",
    precision: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """:func:`export_table` for the ``(stmt, live)`` that :func:`export_statement` gave, so
    a caller that needed them first (for an estimate) does not look the table up twice."""
    id_column = live.primary_key[0] if len(live.primary_key) == 1 else None
    header_rows = 1 if output_format == "csv" else 0

    def write(out: BinaryIO) -> int:
        rows = -header_rows
        with engine.begin() as conn:
            for chunk in stream_features(
                conn, stmt, output_format=output_format, id_column=id_column,
                geometry_column=live.columns[0].name, precision=precision,
            ):  # fmt: skip
                out.write(chunk)
                lines = (
                    chunk.count(b"\n")
                    if output_format != "geojson"
                    else chunk.count(b'{"type":"Feature"')
                )
                rows += lines
                if progress is not None and lines:
                    progress(lines)
        return max(rows, 0)

    if not isinstance(destination, Path):
        return write(destination)
    partial = destination.with_name(destination.name + ".partial")
    try:
        with open(partial, "wb") as out:
            written = write(out)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return written
