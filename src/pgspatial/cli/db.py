"""``pgspatial db``: manage the embedded PostGIS cluster and its optional streaming replica."""

from __future__ import annotations

import os
import shutil

import typer
from rich.console import Console

from pgspatial.errors import ClusterError, ConfigError
from pgspatial.local import LocalCluster, resolve_database_url
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url, sqlalchemy_url

__all__ = ["app"]

app = typer.Typer(help="Manage the embedded PostGIS cluster.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

_REPLICA_HELP = "Also make and start a streaming replica of it (for read-routing tests)."


def _external(settings: Settings) -> str | None:
    if not settings.database_url:
        return None
    return sqlalchemy_url(settings.database_url).render_as_string(hide_password=True)


def _replica_url(settings: Settings) -> str:
    """The replica's URL: the first of PGSPATIAL_REPLICA_URLS with DATABASE_URL, else the
    embedded replica's (started when it exists but is stopped, as ``db url`` starts the
    primary). Raises a clear error when there is none.
    """
    if settings.database_url:
        if not settings.replica_urls:
            raise ConfigError(
                "DATABASE_URL is set and PGSPATIAL_REPLICA_URLS is not, so there is no replica "
                "to print. List your replicas in PGSPATIAL_REPLICA_URLS (comma-separated); "
                "pgspatial only makes replicas of its embedded cluster."
            )
        return sqlalchemy_url(settings.replica_urls[0]).render_as_string(hide_password=False)
    cluster = LocalCluster(settings)
    cluster.replica_url()  # raises "no replica; run `pgspatial db start --replica`"
    replica = cluster.start(replica=True).replica
    if replica is None or replica.url is None:
        raise ClusterError(
            f"The replica in {cluster.home} did not start; see `pgspatial db status`."
        )
    return replica.url


@app.command()
def start(replica: bool = typer.Option(False, "--replica", help=_REPLICA_HELP)) -> None:
    """Initialise (first time) and start the embedded cluster; a no-op when running."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set ({external}): using that server, not starting one.")
        if replica:
            console.print(
                "pgspatial makes replicas only of its embedded cluster; list yours in "
                "PGSPATIAL_REPLICA_URLS."
            )
        return
    cluster = LocalCluster(settings)
    before = cluster.status()
    was_running = before.running and (
        not replica or (before.replica is not None and before.replica.running)
    )
    status = cluster.start(replica=replica)
    console.print("already running" if was_running else "started")
    console.print(status.describe())


@app.command()
def stop(
    replica: bool = typer.Option(False, "--replica", help="Stop only the replica."),
) -> None:
    """Stop the embedded cluster and its replica (replica first); their data is kept."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set ({external}): no embedded server to stop.")
        return
    cluster = LocalCluster(settings)
    stopped = cluster.stop_replica() if replica else cluster.stop()
    console.print("stopped" if stopped else "not running")


@app.command()
def status() -> None:
    """Say whether the embedded cluster (and its replica) exists and runs, where, on which port.

    Exits with 1 when the primary is not running.
    """
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
    replica: bool = typer.Option(
        False, "--replica", help="The replica's URL (error when there is none)."
    ),
) -> None:
    """Print the database URL (SQLAlchemy form), starting the cluster if needed."""
    settings = Settings()
    resolved = _replica_url(settings) if replica else resolve_database_url(settings)
    typer.echo(libpq_url(resolved) if libpq else resolved)


@app.command()
def psql(
    replica: bool = typer.Option(False, "--replica", help="Open it on the replica."),
) -> None:
    """Open psql on the database."""
    settings = Settings()
    target = libpq_url(_replica_url(settings) if replica else resolve_database_url(settings))
    binary = shutil.which("psql")
    if binary is None:
        raise ConfigError("psql is not installed; install postgresql-client.")
    os.execv(binary, [binary, target])  # noqa: S606 - replace this process with psql


@app.command()
def destroy(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    replica: bool = typer.Option(False, "--replica", help="Delete only the replica."),
) -> None:
    """Stop the embedded cluster and delete all of its data (or only the replica's)."""
    settings = Settings()
    if external := _external(settings):
        console.print(f"DATABASE_URL is set ({external}): pgspatial never destroys that server.")
        raise typer.Exit(1)
    cluster = LocalCluster(settings)
    what = "the replica of the embedded cluster" if replica else "the embedded cluster"
    if not yes and not typer.confirm(f"Delete {what} in {cluster.home}?"):
        raise typer.Abort()
    if replica:
        removed = cluster.destroy_replica()
        console.print("replica destroyed" if removed else "no replica to destroy")
        return
    cluster.destroy()
    console.print(f"destroyed ({cluster.home})")
