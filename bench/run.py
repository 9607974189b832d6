"""``make bench``: run the benchmarks against the embedded PostGIS and write JSON results.

Today this measures the demo-data generator; the benchmarks issue adds the workloads that
compare pgspatial with PostgreSQL's own ceiling and with peer tools. Every figure is a
median of repeated runs in this process, written with the machine and versions.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from pgspatial.local import resolve_database_url
from pgspatial.sampledata import load_sample_data
from pgspatial.settings import Settings

RESULTS = Path(__file__).parent / "results"
REPEATS = 3


def _median_seconds(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    url = resolve_database_url(Settings())
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = {
            "postgresql": conn.execute(text("SHOW server_version")).scalar_one(),
            "postgis": conn.execute(text("SELECT postgis_lib_version()")).scalar_one(),
        }
    results = []
    for parcels in (10_000, 100_000):
        seconds = _median_seconds(lambda n=parcels: load_sample_data(engine, parcels=n, seed=7))
        results.append(
            {
                "workload": "sampledata.load",
                "parcels": parcels,
                "median_s": round(seconds, 3),
                "parcels_per_s": round(parcels / seconds),
            }
        )
        print(f"sampledata {parcels:>9,} parcels: {seconds:7.2f} s  ({parcels / seconds:,.0f}/s)")
    engine.dispose()
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
