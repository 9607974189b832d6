"""The reference service's test scaffolding: a fresh database holding the demo data, and
the app under a real uvicorn for tests that need a socket."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import create_engine

from pgspatial.cli.serve import free_port
from pgspatial.sampledata import load_sample_data
from pgspatial.service import ServiceSettings, create_app
from pgspatial.testing import FreshDatabase, fresh_database


@contextmanager
def demo_database(server_url: str, *, parcels: int) -> Iterator[FreshDatabase]:
    """A fresh PostGIS database holding ``parcels`` demo parcels and the zoning (dropped after)."""
    with fresh_database(server_url) as database:
        engine = create_engine(database.url)
        try:
            load_sample_data(engine, parcels=parcels)
        finally:
            engine.dispose()
        yield database


@contextmanager
def serve(settings: ServiceSettings, *, health: bool = True) -> Iterator[str]:
    """Run ``create_app(settings)`` under uvicorn on a free 127.0.0.1 port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status = httpx.get(f"{url}/health", timeout=1).status_code
                if status == 200 or (not health and server.started):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not start within 20 s"
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not shut down within 15 s"
