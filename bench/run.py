"""``make bench``: benchmarks on the embedded PostGIS, written as JSON to bench/results/.

Each workload is measured against its baseline in the same run (the machine is noisy, so
only ratios mean anything), as medians of ``REPEATS`` runs. Today: the demo-data generator
and GeoJSON output (issue 6's comparison of serialization strategies); the benchmarks
issue adds the rest. Benchmarks never run in ``make test``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))

import serialization

from pgspatial.engine import create_engine
from pgspatial.local import resolve_database_url
from pgspatial.sampledata import load_sample_data
from pgspatial.settings import Settings
from pgspatial.urls import libpq_url, sqlalchemy_url

RESULTS = Path(__file__).parent / "results"
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
BENCH_DATABASE = "pgspatial_bench"
PARCELS = 100_000


def bench_database(server_url: str) -> str:
    """A dedicated database on the server (created once), so benches never touch demo data."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    url = (
        sqlalchemy_url(server_url)
        .set(database=BENCH_DATABASE)
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return url


def main() -> None:
    url = bench_database(resolve_database_url(Settings()))
    engine = create_engine(url, statement_timeout_ms=0)
    with engine.connect() as conn:
        versions = {
            "postgresql": conn.execute(text("SHOW server_version")).scalar_one(),
            "postgis": conn.execute(text("SELECT postgis_lib_version()")).scalar_one(),
        }
    results = []
    for parcels in (10_000, PARCELS):
        seconds = serialization.median_seconds(
            lambda n=parcels: load_sample_data(engine, parcels=n, seed=7), REPEATS
        )
        results.append(
            {
                "workload": f"sampledata.load {parcels:,} parcels",
                "variant": "pgspatial",
                "median_s": round(seconds, 3),
                "rows_per_s": round(parcels / seconds),
            }
        )
    results.extend(serialization.run_all(engine, url, REPEATS))
    engine.dispose()
    for row in results:
        ratio = f"{row['ratio_to_ceiling']:>6.2f}x" if "ratio_to_ceiling" in row else ""
        print(f"{row['workload']:<32} {row['variant']:<48} {row['median_s']:>8.3f} s {ratio}")
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": sys.version.split()[0],
        "versions": versions,
        "repeats": REPEATS,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
