"""Export of the whole ``parcels`` table to NDJSON (issue 11, row 3): pgspatial against psql's
``\\copy`` ceiling and ogr2ogr, on 1M features (100k with ``--quick``).

Every variant writes to /dev/null (no disk in the figures) and runs as a process of its own,
started through GNU time, so each has its peak RSS measured:

- ceiling: ``psql -f bench/sql/ndjson_copy_ceiling.sql``, the same per-feature text
  pgspatial asks PostgreSQL for;
- ``pgspatial export parcels --format ndjson`` to stdout, the command as a user runs it
  (Python start-up, imports, catalog look-up and the planner's row estimate included);
- ``export_table`` in a fresh Python process that imports pgspatial, records its peak RSS
  (VmHWM, the kernel's ``ru_maxrss`` of this address space), exports, and reports the time
  of the export alone and how far the peak rose above that import baseline;
- ``ogr2ogr -f GeoJSONSeq /vsistdout/`` from the table.

TiPg's ``/items`` as an export is not run here: the service benchmarks (``bench/service.py``)
run TiPg; its orientation figure for 1M features is 64 s and 3 GiB of RSS.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bulk import gdal_conninfo
from datasets import ROOT, SQL, Dataset, Sample, interleaved, rows_of, run_command

CEILING_SQL = SQL / "ndjson_copy_ceiling.sql"
PGSPATIAL = ROOT / ".venv" / "bin" / "pgspatial"
PYTHON = ROOT / ".venv" / "bin" / "python"

IN_PROCESS_SCRIPT = """
import json, sys, time
from pgspatial.engine import create_engine
from pgspatial.serialize.export import export_table
def hwm_mib():  # VmHWM: the peak RSS of this address space (exec resets it), as ru_maxrss
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
baseline = hwm_mib()
engine = create_engine(sys.argv[1], statement_timeout_ms=0)
with open("/dev/null", "wb") as out:
    started = time.perf_counter()
    rows = export_table(engine, "parcels", out, output_format="ndjson")
    seconds = time.perf_counter() - started
peak = hwm_mib()
print(json.dumps({"seconds": seconds, "rows": rows, "baseline_mib": baseline, "peak_mib": peak}))
"""

CEILING = "psql \\copy to /dev/null (ceiling)"
COMMAND = "pgspatial export --format ndjson (command)"
IN_PROCESS = "pgspatial export_table (in-process, imports excluded)"
OGR2OGR = "ogr2ogr -f GeoJSONSeq (command)"


def run_all(dataset: Dataset, repeats: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    n = dataset.parcels
    env = {"DATABASE_URL": dataset.url}

    def ceiling() -> Sample:
        return run_command(["psql", dataset.libpq, "-q", "-v", "ON_ERROR_STOP=1",
                            "-f", str(CEILING_SQL)])  # fmt: skip

    def command() -> Sample:
        return run_command([str(PGSPATIAL), "export", "parcels", "--format", "ndjson"], env=env)

    def in_process() -> Sample:
        started = time.perf_counter()
        out = subprocess.run(
            [str(PYTHON), "-c", IN_PROCESS_SCRIPT, dataset.url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        found = json.loads(out.stdout.strip().splitlines()[-1])
        if found["rows"] != n:
            raise RuntimeError(f"export_table wrote {found['rows']:,} features, not {n:,}")
        return Sample(found["seconds"], {
            "process_s": wall, "import_baseline_mib": found["baseline_mib"],
            "peak_rss_mib": found["peak_mib"],
            "rss_above_baseline_mib": found["peak_mib"] - found["baseline_mib"],
        })  # fmt: skip

    def ogr2ogr() -> Sample:
        return run_command(["ogr2ogr", "-f", "GeoJSONSeq", "/vsistdout/",
                            gdal_conninfo(dataset.libpq), "parcels"])  # fmt: skip

    variants = {CEILING: ceiling, COMMAND: command, IN_PROCESS: in_process, OGR2OGR: ogr2ogr}
    log(f"export: {len(variants)} variants x {repeats} rounds (+1 warm-up), {n:,} features")
    measured = interleaved(variants, repeats, log=log)
    return rows_of(f"export {n:,} features to NDJSON", measured, CEILING)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 11's targets for row 3."""
    by = {r["variant"]: r for r in rows}
    workload = rows[0]["workload"]
    found = []
    for name in (COMMAND, IN_PROCESS):
        ratio = by[name]["ratio_to_ceiling"]
        found.append({"workload": workload, "target": f"{name}: <= 1.5x psql",
                      "measured": f"{ratio:.2f}x", "met": ratio <= 1.5})  # fmt: skip
        faster = by[OGR2OGR]["median_s"] / by[name]["median_s"]
        found.append({"workload": workload, "target": f"{name}: >= 5x faster than ogr2ogr",
                      "measured": f"{faster:.1f}x faster", "met": faster >= 5})  # fmt: skip
    above = by[IN_PROCESS].get("rss_above_baseline_mib")
    if above is not None:
        found.append({"workload": workload,
                      "target": "peak RSS <= 30 MiB above the import baseline",
                      "measured": f"+{above:.1f} MiB", "met": above <= 30})  # fmt: skip
    return found
