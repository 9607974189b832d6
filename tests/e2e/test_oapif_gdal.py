"""GDAL's OAPIF client reads a 20,000-parcel collection completely, following next links."""

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from pgspatial.cli.serve import free_port
from pgspatial.engine import create_engine
from pgspatial.sampledata import load_sample_data
from pgspatial.service import ServiceSettings, create_app
from pgspatial.testing import fresh_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="GDAL (gdal-bin) is not installed"),
]

PARCELS = 20_000


@pytest.fixture(scope="module")
def served(pgspatial_database_url: str) -> Iterator[tuple[str, int]]:
    """The service on a real uvicorn, over a fresh database with 20,000 parcels."""
    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=PARCELS, seed=4)
        with engine.connect() as conn:
            expected = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
        engine.dispose()
        port = free_port()
        app = create_app(ServiceSettings(database_url=database.url))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the service did not start within 20 s"
                time.sleep(0.1)
            yield url, expected
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def test_gdal_reads_all_20000_features(served: tuple[str, int]) -> None:
    url, expected = served
    exported = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSONSeq", "/vsistdout/", f"OAPIF:{url}", "parcels"],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    lines = [line for line in exported.stdout.splitlines() if line.strip()]
    geometries = {json.dumps(json.loads(line)["geometry"], sort_keys=True) for line in lines}
    assert len(lines) == expected == PARCELS, "every next link was followed"
    assert len(geometries) == len(lines), "no page was read twice"
    counted = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{url}", "parcels"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"Feature Count: {PARCELS}" in counted.stdout
