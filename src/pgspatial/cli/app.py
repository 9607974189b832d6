"""Top-level Typer application and the mapping of PgSpatialError to exit codes."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from pgspatial.cli import db, demo, doctor, explain, export, load, schema, serve
from pgspatial.errors import ConfigError, EnvironmentProblem, PgSpatialError

__all__ = ["app", "main"]

app = typer.Typer(
    name="pgspatial",
    help="PostgreSQL/PostGIS + SQLAlchemy, production-ready by default.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.command(name="demo")(demo.demo)
app.command(name="verify-schema")(schema.verify_schema_command)
app.command(name="export")(export.export_command)
app.command(name="init-migrations")(schema.init_migrations_command)
app.command(name="explain")(explain.explain_command)
app.command(name="doctor")(doctor.doctor_command)
app.command(name="load")(load.load_command)
app.command(name="serve")(serve.serve_command)

_stderr = Console(stderr=True)

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


def exit_code_for(error: PgSpatialError) -> int:
    """The process exit code for an error: usage 2, missing software 3, anything else 1."""
    if isinstance(error, ConfigError):
        return EXIT_USAGE
    if isinstance(error, EnvironmentProblem):
        return EXIT_ENVIRONMENT
    return EXIT_FAILURE


def main(argv: list[str] | None = None) -> None:
    """Entry point: Typer handles usage errors; PgSpatialError becomes one message and a code."""
    # NumPy is imported by the commands, after this. pgspatial does no linear algebra, and
    # OpenBLAS's worker threads spin after each call, taking a core from PostgreSQL (seen
    # in perf during `pgspatial load` on this 2-core machine).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app(args=argv)
    except PgSpatialError as error:
        _stderr.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(exit_code_for(error))
