"""``pgspatial load``: a GIS file layer into a PostGIS table, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings

__all__ = ["load_command"]

console = Console(stderr=True, highlight=False)


def load_command(  # noqa: PLR0917 - Typer maps each parameter to an option
    file: Annotated[
        Path, typer.Argument(help="GeoPackage, Shapefile, GeoJSON(Seq), FlatGeobuf, ...")
    ],
    table: Annotated[str, typer.Option("--table", help="Target table (created if missing).")],
    srid: Annotated[
        int | None, typer.Option(help="Store in this EPSG SRID (default: the file's).")
    ] = None,
    layer: Annotated[str | None, typer.Option(help="Layer to load (files with several).")] = None,
    on_invalid: Annotated[
        Literal["reject", "repair", "skip"],
        typer.Option(help="Bad rows: fail and load nothing, repair them, or skip them."),
    ] = "reject",
    promote_to_multi: Annotated[
        bool, typer.Option("--promote-to-multi", help="Load mixed single/Multi as Multi.")
    ] = False,
    report: Annotated[Path | None, typer.Option(help="NDJSON file for the rejected rows.")] = None,
    schema: Annotated[str | None, typer.Option(help="Schema of the table.")] = None,
    keep_indexes: Annotated[
        bool,
        typer.Option(
            "--keep-indexes",
            help="Into an existing empty table, keep its indexes during the COPY (slower, "
            "but readers are not locked out until the load commits).",
        ),
    ] = False,
) -> None:
    """Load a GIS file layer into PostGIS in one transaction (COPY, checks, ANALYZE)."""
    from pgspatial.bulk import describe_layer, load_file
    from pgspatial.cli.runtime import freeze_imports
    from pgspatial.engine import create_engine

    freeze_imports()

    info = describe_layer(file, layer)
    engine = create_engine(resolve_database_url(Settings()))
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(
                f"{info.layer} -> {table}", total=info.features if info.features >= 0 else None
            )
            result = load_file(
                engine, info, table, schema=schema, srid=srid, on_invalid=on_invalid,
                promote_to_multi=promote_to_multi, report_path=report,
                defer_indexes=not keep_indexes,
                progress=lambda done: bar.update(task, completed=done),
            )  # fmt: skip
    finally:
        engine.dispose()
    console.print(result.summary())
