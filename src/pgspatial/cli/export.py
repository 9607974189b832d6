"""``pgspatial export``: a table to GeoJSON, NDJSON or CSV, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings

__all__ = ["export_command"]

console = Console(stderr=True, highlight=False)


def export_command(  # noqa: PLR0917 - Typer maps each parameter to an option
    table: Annotated[str, typer.Argument(help="Table, optionally schema-qualified.")],
    output_format: Annotated[
        Literal["geojson", "ndjson", "csv"], typer.Option("--format", help="Output format.")
    ] = "geojson",
    bbox: Annotated[str | None, typer.Option(help="xmin,ymin,xmax,ymax in EPSG:4326.")] = None,
    where: Annotated[
        str | None, typer.Option(help="SQL condition (trusted operators only).")
    ] = None,
    precision: Annotated[int | None, typer.Option(help="Decimal digits of coordinates.")] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default stdout).")
    ] = None,
) -> None:
    """Export a spatial table; GeoJSON follows RFC 7946 (EPSG:4326)."""
    from pgspatial.cli.runtime import freeze_imports
    from pgspatial.engine import create_engine
    from pgspatial.serialize.export import (
        estimate_rows,
        export_prepared,
        export_statement,
        parse_bbox,
    )

    freeze_imports()
    box = parse_bbox(bbox) if bbox else None
    engine = create_engine(resolve_database_url(Settings()))
    try:
        stmt, live = export_statement(engine, table, bbox=box, where=where)
        total = estimate_rows(engine, stmt)
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("(estimate)"), TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=console, disable=output is None) as bar:
            task = bar.add_task(f"{live.qualified_name} -> {output_format}", total=total)
            written = export_prepared(
                engine, stmt, live, output if output is not None else sys.stdout.buffer,
                output_format=output_format, precision=precision,
                progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
    finally:
        engine.dispose()
    if output is not None:
        console.print(f"wrote {written:,} features to {output}")
