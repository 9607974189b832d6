"""``pgspatial db``: manage the embedded PostGIS cluster."""

from __future__ import annotations

import os
import shutil

import typer
from rich.console import Console

from pgspatial.errors import ConfigError
from pgspatial.local import LocalCluster, resolve_database_url
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url, sqlalchemy_url

__all__ = ["app"]

app = typer.Typer(help="Manage the embedded PostGIS cluster.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


def _external(settings: Settings) -> str | None:
    if not settings.database_url:
        return None
    return sqlalchemy_url(settings.database_url).render_as_string(hide_password=True)


@app.command()
def start() -> None:
    """Initialise (first time) and start the embedded cluster; a no-op when running."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set ({external}): using that server, not starting one.")
        return
    cluster = LocalCluster(settings)
    was_running = cluster.status().running
    status = cluster.start()
    console.print("already running" if was_running else "started")
    console.print(status.describe())


@app.command()
def stop() -> None:
    """Stop the embedded cluster; its data is kept."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set ({external}): no embedded server to stop.")
        return
    stopped = LocalCluster(settings).stop()
    console.print("stopped" if stopped else "not running")


@app.command()
def status() -> None:
    """Say whether the embedded cluster exists and runs, where, and on which port."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set: using {external}")
        return
    info = LocalCluster(settings).status()
    console.print(info.describe())
    if not info.running:
        raise typer.Exit(1)


@app.command()
def url(
    libpq: bool = typer.Option(False, "--libpq", help="Print postgresql:// for psql/libpq."),
) -> None:
    """Print the database URL (SQLAlchemy form), starting the cluster if needed."""
    resolved = resolve_database_url(Settings())
    typer.echo(libpq_url(resolved) if libpq else resolved)


@app.command()
def psql() -> None:
    """Open psql on the database."""
    settings = Settings()
    target = libpq_url(resolve_database_url(settings))
    binary = shutil.which("psql")
    if binary is None:
        raise ConfigError("psql is not installed; install postgresql-client.")
    os.execv(binary, [binary, target])  # noqa: S606 - replace this process with psql


@app.command()
def destroy(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Stop the embedded cluster and delete all of its data."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set ({external}): pgspatial never destroys that server.")
        raise typer.Exit(1)
    cluster = LocalCluster(settings)
    if not yes and not typer.confirm(f"Delete the embedded cluster in {cluster.home}?"):
        raise typer.Abort()
    cluster.destroy()
    console.print(f"destroyed ({cluster.home})")
