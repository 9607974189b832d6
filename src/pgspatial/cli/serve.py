"""``pgspatial serve``: the reference service (parcels API, OGC API Features, tiles) on any
database: ``DATABASE_URL``, else the embedded cluster. Needs the ``service`` extra."""

from __future__ import annotations

import socket

import typer
from rich.console import Console

from pgspatial.errors import ConfigError, EnvironmentProblem

__all__ = ["free_port", "run_server", "serve_command"]

console = Console(highlight=False, soft_wrap=True)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def run_server(
    host: str,
    port: int | None,
    *,
    database_url: str | None = None,
    preferred_port: int | None = None,
) -> None:
    """Serve until interrupted, printing the URLs first.

    Without ``port``: ``preferred_port`` when it is free, else a free port.
    """
    if port is None and preferred_port is not None and _is_free(host, preferred_port):
        port = preferred_port
    try:
        import uvicorn

        from pgspatial.service import ServiceSettings, create_app
        from pgspatial.service.mappage import maplibre_vendored
    except ImportError as error:
        raise EnvironmentProblem(
            f"The service needs FastAPI and uvicorn ({error.name} is missing): "
            "pip install 'pgspatial[service]'."
        ) from error
    chosen = free_port(host) if port is None else port
    if not 0 < chosen < 65536:
        raise ConfigError(f"--port must be 1..65535, got {chosen}.")
    settings = ServiceSettings(database_url=database_url)
    base = f"http://{host}:{chosen}"
    console.print(f"serving on {base}")
    console.print(f"  OGC API Features: {base}/collections   (ogrinfo OAPIF:{base})")
    console.print(f"  parcels:          {base}/parcels?bbox=-74.01,40.70,-73.99,40.72")
    console.print(f"  vector tiles:     {base}/tiles/{{z}}/{{x}}/{{y}}.mvt")
    console.print(f"  map:              [bold]{base}/map[/bold]")
    if not maplibre_vendored():
        console.print("    (MapLibre GL JS is not vendored yet: run scripts/vendor-maplibre)")
    console.print(f"  API docs:         {base}/docs        (Ctrl-C stops)")
    uvicorn.run(create_app(settings), host=host, port=chosen, log_level="info")


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port (default: a free one)."
    ),
) -> None:
    """Serve the reference API and OGC API Features on DATABASE_URL (or the embedded cluster)."""
    run_server(host, port)
