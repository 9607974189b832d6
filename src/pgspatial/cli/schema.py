"""``pgspatial verify-schema`` and ``pgspatial init-migrations``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings

__all__ = ["init_migrations_command", "verify_schema_command"]

console = Console(highlight=False, soft_wrap=True)


def verify_schema_command(
    reference: Annotated[str, typer.Argument(metavar="MODULE:ATTR", help="e.g. app.models:Base")],
) -> None:
    """Compare the models' spatial columns with the live database; exit 1 on any problem."""
    from sqlalchemy import create_engine

    from pgspatial.migrations import load_metadata
    from pgspatial.verify import verify_schema

    metadata = load_metadata(reference)
    engine = create_engine(resolve_database_url(Settings()))
    try:
        problems = verify_schema(engine, metadata)
    finally:
        engine.dispose()
    if not problems:
        console.print(f"schema matches {reference}")
        return
    for problem in problems:
        console.print(f"[red]{problem.kind}[/] {problem}")
    console.print(f"{len(problems)} problem(s)")
    raise typer.Exit(1)


def init_migrations_command(
    directory: Annotated[Path, typer.Argument(help="Directory to create (new or empty).")],
    metadata: Annotated[str, typer.Option("--metadata", help="MODULE:ATTR, e.g. app.models:Base")],
) -> None:
    """Create an Alembic directory whose first revision enables PostGIS."""
    from pgspatial.migrations import init_migrations

    ini = init_migrations(directory, metadata=metadata)
    console.print(f"created {directory}; run: alembic -c {ini} upgrade head")
