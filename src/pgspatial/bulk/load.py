"""``bulk_load``: rows from any iterable into a spatial table at COPY speed, checked, atomic.

The input is consumed ``batch_rows`` at a time and never held whole: each batch is turned
into columns, its geometries are checked as arrays (exact ``parse_geometry`` messages for
the rows that fail), and the rows that pass are streamed into one binary COPY. Python's
work on one batch overlaps with PostgreSQL's work on the previous one (the socket buffers
them), which is how a load with validation and ANALYZE stays within a few percent of a
server-side ``COPY FROM`` file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, inspect
from sqlalchemy.exc import NoInspectionAvailable

from pgspatial.bulk.plan import plan_load
from pgspatial.bulk.report import LoadReport
from pgspatial.bulk.run import LoadRun, check_mode
from pgspatial.bulk.target import resolve_target, split_name
from pgspatial.errors import ConfigError

__all__ = ["bulk_load"]


def bulk_load(
    engine: Engine | Connection,
    table: Any,
    rows: Iterable[Mapping[str, Any]],
    *,
    on_invalid: str = "reject",
    batch_rows: int = 10_000,
    progress: Callable[[int], None] | None = None,
    transform: bool = False,
    report_path: str | Path | None = None,
    promote_to_multi: bool = False,
    defer_indexes: bool = True,
) -> LoadReport:
    """Load ``rows`` into ``table`` in one transaction with binary COPY, then ANALYZE it.

    ``table`` is a mapped class, a :class:`~sqlalchemy.Table` or a table name (optionally
    ``schema.table``); the live table's column types and each spatial column's SRID and
    geometry type decide what is accepted. ``rows`` are mappings with the same keys (column
    names, or a mapped class's attribute names); geometries may be Shapely, WKB/EWKB,
    WKT/EWKT, GeoJSON, or GeoAlchemy2 elements, and obey
    :func:`~pgspatial.geometry.parse_geometry`'s rules. A geometry in another SRID is
    reprojected when ``transform`` is true, else rejected; ``promote_to_multi`` wraps single
    parts for a Multi column.

    ``on_invalid``:

    * ``"reject"`` (default): any bad row and nothing is committed; raises
      :class:`~pgspatial.errors.LoadRejected` whose message and ``.report`` give the row
      numbers (1-based in the input) and reasons;
    * ``"skip"``: loads the good rows and writes the others, with reasons, attributes and
      geometry, as NDJSON to ``report_path`` (default: a temp file named in the report);
    * ``"repair"``: repairs invalid geometries as ST_MakeValid does; a repair that changes
      the type into one the column cannot hold is rejected, as in ``"reject"``.

    ``defer_indexes``: into an empty table, drop its plain indexes for the COPY and build
    them after it (about 1.4x faster with a GiST index; it locks the table until commit, see
    :mod:`pgspatial.bulk.indexes`). ``progress(rows_read)`` is called after each batch with
    the number of rows read so far.
    With an Engine the load commits on success; with a Connection already in a transaction
    it runs in a savepoint and the caller commits.
    """
    mode = check_mode(on_invalid)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ConfigError(f"batch_rows must be a positive integer, got {batch_rows!r}.")
    (schema, name), aliases = table_identity(table)
    run = LoadRun(engine, on_invalid=mode, report_path=report_path, progress=progress)
    batches = _batches(iter(rows), batch_rows)
    with run.transaction() as connection:
        target = resolve_target(connection, schema, name)
        run.table = target.qualified_name
        first = next(batches, None)
        if first is not None:
            keys = list(first[0].keys())
            plan = plan_load(
                target,
                keys,
                on_invalid=mode,
                transform=transform,
                promote_to_multi=promote_to_multi,
                aliases=aliases,
            )
            start = 1
            if defer_indexes:
                run.defer_indexes(connection, target.sql_name)
            with run.copy(connection, plan) as sink:
                for batch in itertools.chain([first], batches):
                    sink.add_batch(start, _columns(batch, keys, start))
                    start += len(batch)
                    run.batch_done()
                run.refuse_if_rejected()
            run.finish(connection, target.sql_name)
    return run.report()


def _batches(rows: Iterator[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _columns(
    batch: Sequence[Mapping[str, Any]], keys: list[str], start: int
) -> list[Sequence[Any]]:
    """The batch as one list per key; every row must have exactly the first row's keys."""
    width = len(keys)
    try:
        columns: list[Sequence[Any]] = [[row[key] for row in batch] for key in keys]
    except (KeyError, TypeError):
        columns = []
    if columns and all(len(row) == width for row in batch):
        return columns
    for offset, row in enumerate(batch):
        if not isinstance(row, Mapping):
            raise ConfigError(
                f"row {start + offset} is a {type(row).__name__}, not a mapping; bulk_load "
                "takes mappings of column name to value (e.g. dicts)."
            )
        if set(row.keys()) != set(keys):
            missing = sorted(set(keys) - set(row.keys()))
            extra = sorted(set(row.keys()) - set(keys))
            raise ConfigError(
                f"row {start + offset} has different keys from the first row (missing "
                f"{missing}, extra {extra}); give every row the same keys, None for NULL."
            )
    raise AssertionError("unreachable: the batch was found consistent")  # pragma: no cover


def table_identity(table: object) -> tuple[tuple[str | None, str], dict[str, str]]:
    """``(schema, name)`` of a mapped class, Table or name, and attribute-key -> column name.

    A mapped class may name its attributes differently from its columns
    (``mapped_column("parcelId")``); rows keyed by attribute names are accepted.
    """
    if isinstance(table, str):
        return split_name(table), {}
    if isinstance(table, Table):
        return (table.schema, table.name), {c.key: c.name for c in table.columns}
    try:
        mapper = inspect(table)
    except NoInspectionAvailable:
        mapper = None
    local = getattr(mapper, "local_table", None)
    if isinstance(local, Table):
        keys = {key: column.name for key, column in mapper.columns.items()}
        return (local.schema, local.name), keys
    raise ConfigError(
        f"table must be a mapped class, a sqlalchemy Table or a table name, got {table!r}."
    )
