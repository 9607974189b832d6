"""The datasets every workload runs on, and the measuring helpers the workloads share.

Datasets are the Foundation generator's parcels (``load_sample_data``, seed 7), each size in
a database of its own on the server (``pgspatial_bench`` for 100k, ``pgspatial_bench_1m``
for 1M), so no workload ever touches the demo data and the two sizes can live side by side.
They are regenerated on every run unless ``--reuse-datasets`` is given and the database
records the same size, seed and generator (a digest of ``sql/sampledata.sql``).

Measuring: variants of one workload are interleaved round by round (each round runs every
variant once, the order rotating), after one unmeasured warm-up round; a variant's figure
is the median of its rounds. Only ratios measured this way, in the same run, mean anything
on a shared 2-core machine.
"""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text

from pgspatial.engine import create_engine
from pgspatial.sampledata import load_sample_data
from pgspatial.urls import libpq_url, sqlalchemy_url

ROOT = Path(__file__).resolve().parent.parent
SQL = Path(__file__).resolve().parent / "sql"
SEED = 7
DATABASES = {100_000: "pgspatial_bench", 1_000_000: "pgspatial_bench_1m"}
#: Files the server must read (server-side COPY FROM 'file'): a directory any user can read.
SCRATCH = Path(os.environ.get("BENCH_SCRATCH", "/tmp/pgspatial-bench"))  # noqa: S108


@dataclass(eq=False)
class Dataset:
    """One generated dataset: its size, database, engine and extent (hashed by identity)."""

    parcels: int
    url: str
    engine: Engine
    extent: tuple[float, float, float, float]
    generated_s: float | None  # None when reused

    @property
    def libpq(self) -> str:
        return libpq_url(self.url)

    @property
    def label(self) -> str:
        return (
            f"{self.parcels // 1000}k"
            if self.parcels < 1_000_000
            else f"{self.parcels // 1_000_000}M"
        )


def _generator_digest() -> str:
    source = files("pgspatial").joinpath("sql/sampledata.sql").read_bytes()
    return hashlib.sha256(source).hexdigest()[:16]


def _database_url(server_url: str, database: str) -> str:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if not exists.fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    url = sqlalchemy_url(server_url).set(database=database).render_as_string(hide_password=False)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_dataset (parcels integer, seed bigint, digest text)"
        )
    return url


def prepare(server_url: str, parcels: int, *, reuse: bool) -> Dataset:
    """The dataset of ``parcels`` parcels, generated (or reused), settled, checkpointed."""
    url = _database_url(server_url, DATABASES[parcels])
    engine = create_engine(url, statement_timeout_ms=0)
    marker = (parcels, SEED, _generator_digest())
    with engine.connect() as conn:
        recorded = conn.execute(text("SELECT parcels, seed, digest FROM bench_dataset")).first()
        present = conn.execute(text("SELECT to_regclass('public.parcels') IS NOT NULL")).scalar()
    generated_s = None
    if not (reuse and present and recorded is not None and tuple(recorded) == marker):
        started = time.perf_counter()
        load_sample_data(engine, parcels=parcels, seed=SEED)
        generated_s = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bench_dataset"))
            conn.execute(
                text("INSERT INTO bench_dataset VALUES (:p, :s, :d)"),
                {"p": marker[0], "s": marker[1], "d": marker[2]},
            )
    settle(engine, "parcels")
    with engine.connect() as conn:
        box = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                 "(SELECT ST_Extent(geom) AS e FROM parcels) AS t")
        ).one()  # fmt: skip
        count = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
    if count != parcels:
        raise SystemExit(f"{DATABASES[parcels]}.parcels holds {count:,} rows, not {parcels:,}")
    return Dataset(parcels, url, engine, tuple(float(v) for v in box), generated_s)  # type: ignore[arg-type]


def settle(engine: Engine, table: str) -> None:
    """VACUUM (ANALYZE) a freshly written table (hint bits, visibility map, statistics) and
    CHECKPOINT, so no measured variant pays for the previous one's writes."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (ANALYZE) {table}"))
        conn.execute(text("CHECKPOINT"))


def scratch_dir() -> Path:
    """The scratch directory, readable by the server's OS user (it runs as ``postgres``)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    SCRATCH.chmod(0o755)
    return SCRATCH


# --- measuring -------------------------------------------------------------------------


@dataclass
class Sample:
    """What a variant returns when wall time around the call is not its figure: a time it
    measured itself (e.g. inside a subprocess, imports excluded) and extra figures."""

    seconds: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


Variant = Callable[[], Sample | object]


@dataclass
class Measured:
    """All samples of one variant."""

    seconds: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return median(self.seconds)

    def extra_medians(self) -> dict[str, float]:
        return {key: round(median(values), 1) for key, values in self.extra.items()}


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def interleaved(
    variants: Mapping[str, Variant],
    repeats: int,
    *,
    before: Callable[[], None] | None = None,
    after: Callable[[str], None] | None = None,
    warmup: bool = True,
    once: Collection[str] = (),
    log: Callable[[str], None] | None = None,
) -> dict[str, Measured]:
    """Run every variant once per round, ``repeats`` rounds after a warm-up round, the
    order rotating each round. ``before()`` runs (untimed) before each variant, and
    ``after(name)`` after it (untimed, e.g. to check what it wrote). Variants named in
    ``once`` (slow references, in quick runs) run in the first measured round only."""
    names = list(variants)
    results = {name: Measured() for name in names}
    rounds = ([False] if warmup else []) + [True] * repeats
    for number, measured in enumerate(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            if name in once and (not measured or results[name].seconds):
                continue
            if before is not None:
                before()
            started = time.perf_counter()
            outcome = variants[name]()
            elapsed = time.perf_counter() - started
            if after is not None:
                after(name)
            if not measured:
                continue
            if isinstance(outcome, Sample):
                results[name].seconds.append(outcome.seconds if outcome.seconds else elapsed)
                for key, value in outcome.extra.items():
                    results[name].extra.setdefault(key, []).append(value)
            else:
                results[name].seconds.append(elapsed)
        if log is not None:
            log(f"  round {number + 1}/{len(rounds)}{' (warm-up)' if not measured else ''}")
    return results


GNU_TIME = Path("/usr/bin/time")


def run_command(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, stdout: Any = subprocess.DEVNULL
) -> Sample:
    """Run a command to completion: its wall time, and its peak RSS in MiB.

    The peak comes from GNU time (``%M``), which forks the command from its own small
    process: the kernel's ``ru_maxrss`` of a child counts the memory of the process it was
    forked from, so ``wait4`` from this (large) process would report our own size instead.
    """
    environment = {**os.environ, **(env or {})}
    # An installed package has its bytecode compiled (pip does it); a shell that sets
    # PYTHONDONTWRITEBYTECODE would make every Python command recompile its modules.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        prefix = [str(GNU_TIME), "-f", "%M", "-o", rss.name] if GNU_TIME.exists() else []
        started = time.perf_counter()
        done = subprocess.run(
            [*prefix, *argv], stdout=stdout, stderr=subprocess.PIPE, check=False,
            env=environment,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:3])} ... exited {done.returncode}: {done.stderr.decode()[-2000:]}"
            )
        lines = Path(rss.name).read_text().split() if prefix else []
    extra = {"peak_rss_mib": int(lines[-1]) / 1024} if lines else {}
    return Sample(elapsed, extra)


def hwm_mib() -> float:
    """This process's peak RSS (VmHWM: per address space, so exec resets it), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- metadata --------------------------------------------------------------------------


def _first_line(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "loadavg": list(os.getloadavg()),
    }


def versions(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        found = {
            "postgresql": conn.execute(text("SHOW server_version")).scalar_one(),
            "postgis": conn.execute(text("SELECT postgis_lib_version()")).scalar_one(),
            "geos": conn.execute(text("SELECT postgis_geos_version()")).scalar_one(),
            "proj": conn.execute(text("SELECT postgis_proj_version()")).scalar_one(),
        }
    found["python"] = sys.version.split()[0]
    for package in ("pgspatial", "sqlalchemy", "geoalchemy2", "psycopg", "shapely", "pyogrio",
                    "pyarrow", "numpy"):  # fmt: skip
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    found["gdal"] = _first_line(["ogr2ogr", "--version"])
    found["psql"] = _first_line(["psql", "--version"])
    return found


def rows_of(
    workload: str, measured: Mapping[str, Measured], ceiling: str, *, unit: float = 1.0
) -> list[dict[str, Any]]:
    """Result rows: median (seconds, divided by ``unit`` queries when given) and its ratio to
    the ceiling's median (the figure), the fastest round and its ratio to the ceiling's
    fastest (what the code costs when nothing else disturbs it: on a shared machine the
    noise only ever adds time), the samples, and the medians of the extra figures."""
    base = measured[ceiling]
    rows = []
    for name, m in measured.items():
        row: dict[str, Any] = {
            "workload": workload,
            "variant": name,
            "median_s": round(m.median / unit, 6),
            "ratio_to_ceiling": round(m.median / base.median, 2),
            "min_s": round(min(m.seconds) / unit, 6),
            "ratio_of_mins": round(min(m.seconds) / min(base.seconds), 2),
            "samples_s": [round(s / unit, 6) for s in m.seconds],
        }
        row.update({key: round(median(values), 3) for key, values in m.extra.items()})
        rows.append(row)
    return rows
