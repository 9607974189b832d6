"""``pgspatial demo``: load the demo data and (later) serve the reference service."""

from __future__ import annotations

import typer
from rich.console import Console

from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url

__all__ = ["demo"]

console = Console(highlight=False, soft_wrap=True)


def demo(
    parcels: int = typer.Option(
        20_000, "--parcels", min=1_000, max=1_000_000, help="Parcels to generate."
    ),
    seed: int = typer.Option(
        42, "--seed", help="Generator seed; the same seed gives the same data."
    ),
    load_only: bool = typer.Option(False, "--load-only", help="Load the demo data and exit."),
) -> None:
    """Load deterministic NYC-like demo parcels and zoning into the database."""
    from sqlalchemy import create_engine

    from pgspatial.sampledata import load_sample_data

    url = resolve_database_url(Settings())
    engine = create_engine(url)
    try:
        with console.status(f"generating {parcels:,} parcels (seed {seed})"):
            counts = load_sample_data(engine, parcels=parcels, seed=seed)
    finally:
        engine.dispose()
    console.print(
        f"loaded {counts.parcels:,} parcels and {counts.zoning_districts:,} zoning districts"
    )
    console.print(f"database: {url}")
    if load_only:
        return
    console.print(
        "\nTour:\n"
        f"  psql '{libpq_url(url)}' -c 'select postgis_full_version()'\n"
        "  .venv/bin/pgspatial db status      # where the cluster lives, which port\n"
        "  .venv/bin/pgspatial db psql        # an interactive psql\n"
        "  .venv/bin/pgspatial db stop        # stop it; data is kept\n"
        "The reference web service arrives with the service issue;"
        " for now the database is the demo."
    )
