"""``make bench``: issue 11's benchmarks on the embedded PostGIS (or ``DATABASE_URL``).

    python bench/run.py [--quick] [--repeats N] [--only bulk,geojson,export,queries,service]
                        [--reuse-datasets]

Datasets (``bench/datasets.py``): the Foundation generator's parcels, 100k and 1M (100k
only with ``--quick``), each in its own database. Workloads, each its own module, each
measured against its ceiling in the same run (the machine is noisy: only same-run ratios
mean anything):

- ``bench/bulk.py``: bulk load of 100k polygons (server COPY, psycopg, ORM, ogr2ogr,
  geopandas);
- ``bench/serialization.py``: a GeoJSON FeatureCollection of 100k features;
- ``bench/export.py``: export of 1M features to NDJSON (psql, ogr2ogr), with peak RSS;
- ``bench/queries.py``: radius, k-nearest and bbox on 1M rows against hand-written SQL;
- ``bench/service.py`` (when present): the reference service against TiPg and pgbench.

Results go to ``bench/results/bench-<timestamp>.json`` with the machine and the versions,
and a table is printed. ``BENCH_REPEATS`` sets the rounds (default 5; 3 with ``--quick``).
Benchmarks never run in ``make test``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk
import datasets
import export
import queries
import serialization

from pgspatial.local import resolve_database_url
from pgspatial.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = ("bulk", "geojson", "export", "queries", "service")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _service() -> Any | None:
    """``bench/service.py`` (the service benchmarks), when it exists."""
    path = Path(__file__).resolve().parent / "service.py"
    if not path.exists():
        return None
    spec = importlib.util.find_spec("service")
    if spec is None:
        return None
    import service

    return service


def _run_service(
    server_url: str, parcels: int, repeats: int, quick: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    module = _service()
    if module is None or not hasattr(module, "run_all"):
        log("service: bench/service.py not present, skipped")
        return [], []
    kwargs: dict[str, Any] = {"parcels": parcels, "repeats": repeats}
    if "quick" in inspect.signature(module.run_all).parameters:
        kwargs["quick"] = quick
    try:
        rows = list(module.run_all(server_url, **kwargs))
    except Exception as error:
        log(f"service: failed: {error}")
        return [{"workload": "service", "variant": "error", "error": str(error)}], []
    if hasattr(module, "targets"):
        return rows, list(module.targets(rows))
    found = [
        {"workload": row["workload"], "target": row["target"],
         "measured": f"{row.get('ratio_to_tipg', '?')}x TiPg, "
                     f"{row.get('ratio_to_ceiling', '?')} of the ceiling",
         "met": bool(row["target_met"])}
        for row in rows
        if "target" in row and "target_met" in row
    ]  # fmt: skip
    return rows, found


def _timed(name: str, fn: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    started = time.monotonic()
    rows = fn()
    log(f"{name}: done in {time.monotonic() - started:.0f} s")
    return rows


def _format_seconds(row: dict[str, Any]) -> str:
    seconds = row.get("median_s")
    if seconds is None:
        return ""
    return f"{seconds * 1000:9.2f} ms" if seconds < 1 else f"{seconds:9.3f} s "


def print_table(results: list[dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    workload = None
    for row in results:
        if row.get("workload") != workload:
            workload = row.get("workload")
            print(f"\n{workload}")
        ratio = f"{row['ratio_to_ceiling']:6.2f}x" if "ratio_to_ceiling" in row else ""
        if "ratio_of_mins" in row:
            ratio += f" (best {row['ratio_of_mins']:.2f}x)"
        extras = []
        if "peak_rss_mib" in row:
            extras.append(f"peak RSS {row['peak_rss_mib']:.0f} MiB")
        if "rss_above_baseline_mib" in row:
            extras.append(f"+{row['rss_above_baseline_mib']:.1f} MiB over imports")
        if "index_plans" in row:
            extras.append(f"index plans {row['index_plans']}")
        if "req_s" in row:
            extras.append(f"{row['req_s']} req/s")
        print(f"  {row.get('variant', ''):<62} {_format_seconds(row)} {ratio}  {', '.join(extras)}")
    if targets:
        print("\ntargets")
        for target in targets:
            verdict = "info" if target["met"] is None else "met" if target["met"] else "MISSED"
            print(f"  {verdict:<6} {target['workload']}: {target['target']} ({target['measured']})")


def _describe(dataset: datasets.Dataset) -> dict[str, Any]:
    return {
        "parcels": dataset.parcels,
        "database": datasets.DATABASES[dataset.parcels],
        "seed": datasets.SEED,
        "extent": dataset.extent,
        "generated_s": dataset.generated_s,
    }


def _generated(dataset: datasets.Dataset) -> str:
    return "reused" if dataset.generated_s is None else f"generated in {dataset.generated_s:.1f} s"


def main() -> None:  # noqa: PLR0915 - the run, step by step
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows only, fewer rounds")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument(
        "--reuse-datasets", action="store_true", help="keep datasets already generated"
    )
    args = parser.parse_args()
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    unknown = only - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")
    repeats = args.repeats or int(os.environ.get("BENCH_REPEATS", "3" if args.quick else "5"))
    started = time.monotonic()
    when = datetime.now(UTC)
    machine = datasets.machine()
    server_url = resolve_database_url(Settings())

    small = datasets.prepare(server_url, 100_000, reuse=args.reuse_datasets)
    log(f"dataset 100k: {_generated(small)}")
    large = small
    if not args.quick and only & {"export", "queries"}:
        large = datasets.prepare(server_url, 1_000_000, reuse=args.reuse_datasets)
        log(f"dataset 1M: {_generated(large)}")
    results: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    for dataset in dict.fromkeys([small, large]):
        if dataset.generated_s is not None:
            results.append({
                "workload": "dataset generation (load_sample_data, once)",
                "variant": f"{dataset.parcels:,} parcels",
                "median_s": round(dataset.generated_s, 3),
                "rows_per_s": round(dataset.parcels / dataset.generated_s),
            })  # fmt: skip

    if "bulk" in only:
        rows = _timed("bulk", lambda: bulk.run_all(small, repeats, log, quick=args.quick))
        results += rows
        targets += bulk.targets(rows)
    if "geojson" in only:
        rows = _timed(
            "geojson",
            lambda: serialization.run_all(small.engine, small.url, repeats, quick=args.quick),
        )
        results += rows
        targets += serialization.targets(rows)
    if "export" in only:
        rows = _timed("export", lambda: export.run_all(large, repeats, log))
        results += rows
        targets += export.targets(rows)
    if "queries" in only:
        rows = _timed("queries", lambda: queries.run_all(large, repeats, log))
        results += rows
        targets += queries.targets(rows)
    if "service" in only:
        rows, found = _run_service(server_url, large.parcels, repeats, args.quick)
        results += rows
        targets += found
    versions = datasets.versions(small.engine)
    for dataset in dict.fromkeys([small, large]):
        dataset.engine.dispose()

    report = {
        "when": when.isoformat(timespec="seconds"),
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "quick": args.quick,
        "repeats": repeats,
        "elapsed_s": round(time.monotonic() - started),
        "machine": {**machine, "loadavg_end": list(os.getloadavg())},
        "versions": versions,
        "datasets": [_describe(d) for d in dict.fromkeys([small, large])],
        "results": results,
        "targets": targets,
    }
    print_table(results, targets)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{when:%Y%m%dT%H%M%S}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out} ({report['elapsed_s']} s)")


if __name__ == "__main__":
    main()
