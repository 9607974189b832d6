"""``pgspatial demo``: load the demo data, then serve the reference service and its map."""

from __future__ import annotations

import typer
from rich.console import Console

from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url

__all__ = ["demo"]

console = Console(highlight=False, soft_wrap=True)


def demo(  # noqa: PLR0917 - Typer maps each parameter to an option
    parcels: int = typer.Option(
        200_000, "--parcels", min=1_000, max=1_000_000, help="Parcels to generate."
    ),
    seed: int = typer.Option(
        42, "--seed", help="Generator seed; the same seed gives the same data."
    ),
    load_only: bool = typer.Option(False, "--load-only", help="Load the demo data and exit."),
    reload: bool = typer.Option(
        False, "--reload", help="Generate the data again even when it is already there."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="Port to serve on (default: 8000 when free, else a free one).",
    ),
) -> None:
    """Load deterministic NYC-like parcels and zoning if absent, then serve them."""
    from sqlalchemy import create_engine, inspect, text

    from pgspatial.sampledata import PARCELS_TABLE, ZONING_TABLE, load_sample_data

    url = resolve_database_url(Settings())
    engine = create_engine(url)
    try:
        present = all(inspect(engine).has_table(t) for t in (PARCELS_TABLE, ZONING_TABLE))
        if present and not reload:
            with engine.connect() as conn:
                existing = conn.execute(text(f"SELECT count(*) FROM {PARCELS_TABLE}")).scalar()
            console.print(
                f"demo data already loaded ({existing:,} parcels); --reload generates it again"
            )
        else:
            with console.status(f"generating {parcels:,} parcels (seed {seed})"):
                counts = load_sample_data(engine, parcels=parcels, seed=seed)
            console.print(
                f"loaded {counts.parcels:,} parcels and "
                f"{counts.zoning_districts:,} zoning districts"
            )
    finally:
        engine.dispose()
    console.print(f"database: {url}")
    if load_only:
        return
    console.print(f"  psql '{libpq_url(url)}'   (pgspatial db stop: stop it; data is kept)")
    from pgspatial.cli.serve import run_server

    run_server(host, port, database_url=url, preferred_port=8000)
