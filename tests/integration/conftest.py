import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_tmp_dir() -> Iterator[Path]:
    """A temp dir the unprivileged server user can enter (pytest's own tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="pgspatial-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pgspatial`` with a controlled environment."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "PGSPATIAL_HOME", "PG_BINDIR"}
    }
    return subprocess.run(
        [sys.executable, "-m", "pgspatial", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


BIG_PARCELS = 200_000


@pytest.fixture(scope="session")
def big_parcels(pgspatial_database_url):
    """A database with 200,000 generated parcels (made once per test session), plus copies
    in EPSG:3857 and EPSG:2263 and one with a geodesic index, all indexed and analyzed.
    """
    from pgspatial.engine import create_engine
    from pgspatial.sampledata import load_sample_data
    from pgspatial.testing import fresh_database

    with fresh_database(pgspatial_database_url) as database:
        engine = create_engine(database.url)
        load_sample_data(engine, parcels=BIG_PARCELS, seed=11)
        with engine.begin() as conn:
            for srid in (3857, 2263):
                conn.exec_driver_sql(
                    f"CREATE TABLE parcels_{srid} AS SELECT id, ST_Transform(geom, {srid})::geometry(Polygon, {srid}) AS geom FROM parcels"
                )
                conn.exec_driver_sql(f"ALTER TABLE parcels_{srid} ADD PRIMARY KEY (id)")
                conn.exec_driver_sql(
                    f"CREATE INDEX ix_parcels_{srid}_geom ON parcels_{srid} USING gist (geom)"
                )
            conn.exec_driver_sql("CREATE TABLE parcels_geodesic AS SELECT id, geom FROM parcels")
            conn.exec_driver_sql("ALTER TABLE parcels_geodesic ADD PRIMARY KEY (id)")
            conn.exec_driver_sql(
                "CREATE INDEX ix_parcels_geodesic_geom ON parcels_geodesic USING gist (geom)"
            )
            conn.exec_driver_sql(
                "CREATE INDEX ix_parcels_geodesic_geom_geography ON parcels_geodesic USING gist (((geom)::geography))"
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("parcels_3857", "parcels_2263", "parcels_geodesic"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        yield engine
        engine.dispose()
