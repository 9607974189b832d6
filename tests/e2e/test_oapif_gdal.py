"""GDAL's OAPIF client reads a 20,000-parcel collection completely, following next links."""

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from pgspatial.engine import create_engine
from pgspatial.sampledata import load_sample_data
from pgspatial.service import ServiceSettings
from pgspatial.testing import fresh_database
from tests.service.serving import serve

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
        with serve(ServiceSettings(database_url=database.url)) as url:
            yield url, expected


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
