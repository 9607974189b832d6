"""``pgspatial load``: a GIS file layer into a PostGIS table, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

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
    # Only the loader's core, on one psycopg connection: no SQLAlchemy, GeoAlchemy2 or ORM
    # to import unless the table must be created (measured: the imports took longer than
    # the COPY of 100k polygons).
    from pgspatial.bulk.files import load_file
    from pgspatial.bulk.ogr import describe_layer
    from pgspatial.cli.runtime import freeze_imports
    from pgspatial.settings import Settings

    freeze_imports()

    info = describe_layer(file, layer)
    settings = Settings()
    bind: Any
    release: Callable[[], None]
    if settings.pgbouncer:  # settings per transaction: the engine knows how
        from pgspatial.engine import create_engine
        from pgspatial.local import resolve_database_url

        engine = create_engine(resolve_database_url(settings))
        bind, release = engine, engine.dispose
    else:
        from pgspatial.cli.connect import connect_for_command

        connection = connect_for_command(settings)
        bind, release = connection, connection.close
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(
                f"{info.layer} -> {table}", total=info.features if info.features >= 0 else None
            )
            result = load_file(
                bind, info, table, schema=schema, srid=srid, on_invalid=on_invalid,
                promote_to_multi=promote_to_multi, report_path=report,
                defer_indexes=not keep_indexes,
                progress=lambda done: bar.update(task, completed=done),
            )  # fmt: skip
    finally:
        release()
    console.print(result.summary())
