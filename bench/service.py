"""Service benchmarks (issue 11): pgspatial's reference service against TiPg and against the
hand-written SQL ceiling, on the same database, in the same run.

Three workloads, each measured three ways, interleaved round by round:

- ``/items``: an OGC API Features page of a bbox holding about 1,000 parcels, ``limit=1000``.
- one z15 tile and one z13 tile (MVT) of the parcels.

For each: pgspatial's service and TiPg (each one uvicorn process, 1 worker, uvloop and
httptools, access log off, 127.0.0.1) under ``wrk -t2 -c8`` with a Lua script that rotates
over ~50 bboxes or tiles spread across the data (no response caches, nothing repeated
back to back), and the ceiling: pgbench (``-M prepared -c8 -j2``) running the SQL committed
in ``bench/sql/service_*_ceiling.sql`` with the same bboxes or tiles chosen per
transaction (parallel query off for tiles). No gzip is requested by either side.

Same query on both services as far as they allow: all the parcels' columns, EPSG:4326
GeoJSON, a page ordered by id; tiles of 4096 units with a 64-unit buffer and a 50,000
feature cap (TiPg's buffer and cap are set to pgspatial's through ``TIPG_*``). What stays
different: TiPg filters with ``ST_Intersects`` and without the buffer (a few % fewer
features per tile), runs a COUNT(*) before each page and adds links to every feature;
pgspatial filters with ``&&``, as the ceiling SQL does. Rows record the features and bytes
each side returned, and the service process's CPU time per request (less noisy than req/s
on a shared machine). Before measuring, a sample of every path list is fetched and
decoded, and the ceiling's pgbench script is probed (its pages must hold 1,000 features).

Needs ``scripts/bench-setup`` (wrk, pgbench, TiPg in ``.venv-bench/``). Standalone::

    .venv/bin/python bench/service.py --quick      # 100k parcels, 1 round of 5 s runs
    .venv/bin/python bench/service.py --parcels 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mapbox_vector_tile  # type: ignore[import-untyped]
import psycopg
from psycopg import sql
from sqlalchemy import Engine, text

from pgspatial.cli.serve import free_port
from pgspatial.engine import create_engine
from pgspatial.sampledata import load_sample_data
from pgspatial.urls import libpq_url, sqlalchemy_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SQL_DIR = HERE / "sql"
ITEMS_CEILING = SQL_DIR / "service_items_ceiling.sql"
TILE_CEILING = SQL_DIR / "service_tile_ceiling.sql"
LUA = HERE / "service_paths.lua"
BENCH_VENV = Path(os.environ.get("BENCH_VENV", ROOT / ".venv-bench"))
BENCH_DATABASE = "pgspatial_bench_service"
SEED = 7

PAGE = 1_000  # limit= of the /items requests, and the features a bbox should hold
BBOXES = 50
TILES = 50
THREADS, CONNECTIONS = 2, 8
TILE_CAP = 50_000  # pgspatial's tile_max_features; TiPg's max_features_per_tile set to it
TILE_BUFFER = 64  # pgspatial's buffer (of 4096); TiPg's tile_buffer set to it (default 256)
MAX_FAILED_SHARE = 0.01  # of a wrk run's requests, above which the run is an error
PARALLEL_OFF = "-c max_parallel_workers_per_gather=0"
APP = "pgspatial.service.app:create_app"
SERVER_CONFIG = "uvicorn, 1 worker, uvloop+httptools, no access log"
TIPG_ENV = {
    "TIPG_DB_SCHEMAS": '["public"]',
    "TIPG_DB_TABLES": '["public.parcels"]',
    "TIPG_MAX_FEATURES_PER_TILE": str(TILE_CAP),
    "TIPG_TILE_BUFFER": str(TILE_BUFFER),
    "TIPG_CATALOG_TTL": "0",  # no catalog reload in the middle of a run
}
# Issue 11's targets: (at least this many times TiPg's req/s, at least this share of the
# ceiling's TPS).
TARGETS = {"items": (10.0, 0.40), "z15": (1.5, 0.70), "z13": (1.0, 0.70)}

Bbox = tuple[float, float, float, float]
Tile = tuple[int, int, int]


# --- the database -----------------------------------------------------------------------


def service_database(server_url: str) -> str:
    """``pgspatial_bench_service`` on the server (created once), with PostGIS."""
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


def ensure_parcels(engine: Engine, parcels: int) -> bool:
    """Load ``parcels`` demo parcels unless the table holds exactly that many; then settle
    the table (VACUUM ANALYZE: hint bits, visibility map, statistics). True when loaded."""
    with engine.connect() as conn:
        present = conn.execute(text("SELECT to_regclass('public.parcels') IS NOT NULL")).scalar()
        count = conn.execute(text("SELECT count(*) FROM parcels")).scalar() if present else None
    loaded = count != parcels
    if loaded:
        load_sample_data(engine, parcels=parcels, seed=SEED)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) parcels"))
    return loaded


def _count(engine: Engine, box: Bbox) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM parcels "
                "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
            ),
            {"x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]},
        ).scalar_one()
    return int(found)


def data_extent(engine: Engine) -> Bbox:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM parcels) AS t"
            )
        ).one()
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def make_bboxes(engine: Engine, count: int = BBOXES, want: int = PAGE) -> list[Bbox]:
    """``count`` squares (in metres) spread over the data, each holding ``want`` to
    ``want * 1.15`` parcels (so every page is full and LIMIT applies). Deterministic."""
    west, south, east, north = data_extent(engine)
    rng = random.Random(SEED)  # noqa: S311 - reproducible spread, not secrecy
    lat0 = (south + north) / 2
    squish = math.cos(math.radians(lat0))  # degrees of longitude per degree of latitude
    # Start from the mean density, then correct each square's side by sqrt(want / found).
    with engine.connect() as conn:
        total = int(conn.execute(text("SELECT count(*) FROM parcels")).scalar_one())
    side = math.sqrt((east - west) * squish * (north - south) * want * 1.07 / total)
    boxes: list[Bbox] = []
    # A stratified grid of centres (jittered), so the bboxes cover the whole extent.
    across = math.ceil(math.sqrt(count))
    cells = [(i, j) for i in range(across) for j in range(across)]
    rng.shuffle(cells)
    for i, j in cells[:count]:
        s = side
        for _ in range(8):
            half_y, half_x = s / 2, s / 2 / squish
            cx = west + half_x + (east - west - 2 * half_x) * (i + rng.random()) / across
            cy = south + half_y + (north - south - 2 * half_y) * (j + rng.random()) / across
            box = (
                round(cx - half_x, 6),
                round(cy - half_y, 6),
                round(cx + half_x, 6),
                round(cy + half_y, 6),
            )
            found = _count(engine, box)
            if want <= found <= want * 1.15:
                boxes.append(box)
                break
            s *= math.sqrt(want * 1.07 / max(found, 1))
        else:
            raise RuntimeError(f"no bbox of about {want} parcels near cell {i},{j}")
    return boxes


def _tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def make_tiles(engine: Engine, z: int, count: int = TILES, least: int = 4) -> list[Tile]:
    """Up to ``count`` tiles at zoom ``z`` spread evenly over the data: those wholly inside
    its extent, and when there are fewer than ``least`` of them (z13 on 100k parcels has
    one), also those at least half covered by it, fullest first."""
    west, south, east, north = data_extent(engine)
    x0, y0 = _tile_xy(west, north, z)
    x1, y1 = _tile_xy(east, south, z)

    def covered(x: int, y: int) -> float:  # share of the tile inside the extent
        return max(0.0, min(x + 1, x1) - max(x, x0)) * max(0.0, min(y + 1, y1) - max(y, y0))

    candidates = [
        (covered(x, y), (z, x, y))
        for x in range(math.floor(x0), math.ceil(x1))
        for y in range(math.floor(y0), math.ceil(y1))
    ]
    chosen = [tile for share, tile in candidates if share >= 1.0]
    if len(chosen) < least:
        partial = sorted(
            ((share, tile) for share, tile in candidates if 0.5 <= share < 1.0), reverse=True
        )
        chosen += [tile for _, tile in partial[: least - len(chosen)]]
    if not chosen:
        raise RuntimeError(f"no z{z} tile is even half covered by the data; load more parcels")
    step = max(1.0, len(chosen) / count)
    return [chosen[int(k * step)] for k in range(min(count, len(chosen)))]


# --- the services -----------------------------------------------------------------------


@dataclass
class Server:
    name: str
    base: str
    items: str  # path template with {bbox}
    tile: str  # path template with {z} {x} {y}
    process: subprocess.Popen[bytes]
    log: Path

    def items_paths(self, boxes: Sequence[Bbox]) -> list[str]:
        return [self.items.format(bbox=",".join(f"{v:.6f}" for v in b)) for b in boxes]

    def tile_paths(self, tiles: Sequence[Tile]) -> list[str]:
        return [self.tile.format(z=z, x=x, y=y) for z, x, y in tiles]


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # this process only, by its pid
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _uvicorn(python: Path, app: list[str], port: int) -> list[str]:
    return [
        str(python), "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


@contextmanager
def services(url: str, workdir: Path, app: str = APP) -> Iterator[tuple[Server, Server]]:
    """pgspatial's service (the app factory ``app``) and TiPg on the same database, each
    one uvicorn process."""
    libpq = libpq_url(url)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPG_", "PGSPATIAL_"))}
    base_env.pop("DATABASE_URL", None)
    started: list[subprocess.Popen[bytes]] = []

    def launch(
        name: str, python: Path, app: list[str], env: dict[str, str], *, items: str, tile: str
    ) -> Server:
        # cwd: an empty directory, so no stray .env is read
        port, log = free_port(), workdir / f"{name.lower()}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(_uvicorn(python, app, port), env=env, cwd=workdir,
                                    stdout=out, stderr=out)  # fmt: skip
        started.append(proc)
        return Server(name, f"http://127.0.0.1:{port}", items, tile, proc, log)

    try:
        ours = launch(
            "pgspatial", Path(sys.executable), ["--factory", app],
            {**base_env, "PGSPATIAL_SERVICE_DATABASE_URL": url},
            items="/collections/parcels/items?bbox={bbox}&limit=" + str(PAGE),
            tile="/collections/parcels/tiles/{z}/{x}/{y}.mvt",
        )  # fmt: skip
        peer = launch(
            "TiPg", BENCH_VENV / "bin" / "python", ["tipg.main:app"],
            {**base_env, **TIPG_ENV, "DATABASE_URL": libpq},
            items="/collections/public.parcels/items?bbox={bbox}&limit=" + str(PAGE),
            tile="/collections/public.parcels/tiles/WebMercatorQuad/{z}/{x}/{y}",
        )  # fmt: skip
        _wait_ready(ours.process, ours.base + "/collections", ours.log)
        _wait_ready(peer.process, peer.base + "/collections", peer.log)
        yield ours, peer
    finally:
        for proc in started:
            _stop(proc)


# --- checks: a fast wrong answer (a 404 body) must not pass for a fast right one -----------


def _get(url: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url)  # noqa: S310 - loopback; no Accept-Encoding
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def check_items(server: Server, paths: Sequence[str]) -> dict[str, Any]:
    """Every path: 200 and a GeoJSON page of features; the features and bytes per page."""
    counts, sizes = [], []
    for path in paths:
        status, body, media = _get(server.base + path)
        if status != 200:
            raise RuntimeError(f"{server.name} {path}: {status} {body[:300]!r}")
        page = json.loads(body)
        if page.get("type") != "FeatureCollection" or not page.get("features"):
            raise RuntimeError(f"{server.name} {path}: not a page of features ({media})")
        counts.append(len(page["features"]))
        sizes.append(len(body))
    return {"features": counts, "bytes": sizes}


def check_tiles(server: Server, paths: Sequence[str]) -> dict[str, Any]:
    """Every path: 200 and an MVT whose parcels layer has features."""
    counts, sizes = [], []
    for path in paths:
        status, body, _ = _get(server.base + path)
        if status != 200 or not body:
            raise RuntimeError(f"{server.name} {path}: {status} {body[:300]!r}")
        layers = mapbox_vector_tile.decode(body)
        counts.append(sum(len(layer["features"]) for layer in layers.values()))
        sizes.append(len(body))
    return {"features": counts, "bytes": sizes}


def check_ceiling_items(url: str, boxes: Sequence[Bbox]) -> list[int]:
    """The ceiling SQL returns one valid GeoJSON Feature per row: how many per bbox."""
    body = ITEMS_CEILING.read_text()
    counts = []
    with psycopg.connect(libpq_url(url)) as conn:
        for box in boxes:
            values = dict(zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True))
            rows = conn.execute(_substitute(body, values)).fetchall()
            features = [json.loads(row[0]) for row in rows]
            if not features or any(f["type"] != "Feature" for f in features):
                raise RuntimeError(f"the items ceiling SQL returned no features for {box}")
            counts.append(len(features))
    return counts


def check_ceiling_tiles(url: str, tiles: Sequence[Tile]) -> list[int]:
    body = TILE_CEILING.read_text()
    counts = []
    with psycopg.connect(libpq_url(url)) as conn:
        for z, x, y in tiles:
            data = conn.execute(_substitute(body, {"z": z, "x": x, "y": y})).fetchone()[0]  # type: ignore[index]
            layers = mapbox_vector_tile.decode(bytes(data))
            counts.append(sum(len(layer["features"]) for layer in layers.values()))
    return counts


def _substitute(body: str, values: dict[str, Any]) -> str:
    """The ceiling SQL with its pgbench ``:variables`` replaced by literals (for checks)."""
    return re.sub(r"(?<!:):(\w+)", lambda m: repr(values[m.group(1)]), _strip_comments(body))


def _strip_comments(body: str) -> str:
    return "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))


# --- load generators --------------------------------------------------------------------


@dataclass
class Samples:
    values: list[float] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def median(self) -> float:
        ordered = sorted(self.values)
        return ordered[len(ordered) // 2]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(base: str, paths_file: Path, seconds: float, pid: int) -> dict[str, Any]:
    """``wrk -t2 -c8`` for ``seconds`` rotating over the paths: req/s, error counts, and
    the server process's CPU time per request (a noise-resistant view of its cost)."""
    cmd = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
        "--timeout", "30s", "-s", str(LUA), base, "--", str(paths_file),
    ]  # fmt: skip
    cpu = cpu_seconds(pid)
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    cpu = cpu_seconds(pid) - cpu
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    stats: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    stats["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    stats["req_s"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["cpu_ms_per_request"] = 1000 * cpu / max(stats["requests"], 1)
    stats["failed"] = sum(stats[k] for k in ("connect", "read", "write", "timeout"))
    stats["failed"] += stats["non_2xx"]
    return stats


def diagnose(server: Server, paths: Sequence[str]) -> str:
    """What a failing run got: every path fetched twice by 8 concurrent clients."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        results = list(pool.map(lambda p: (p, *_get(server.base + p)), [*paths, *paths]))
    bad = [f"{status} {path}: {body[:200]!r}" for path, status, body, _ in results if status >= 300]
    log = server.log.read_text()[-2000:]
    return f"{len(bad)} of {len(results)} failed on a retry:\n" + "\n".join(bad[:5]) + f"\n{log}"


def pgbench_script(body: str, choices: dict[str, Sequence[float | int]]) -> str:
    """The committed ceiling SQL preceded by ``\\set`` lines that pick one entry of the
    lists per transaction (every list indexed by the same random ``:i``)."""
    length = len(next(iter(choices.values())))
    lines = [f"\\set i random(0, {length - 1})"]
    for name, values in choices.items():
        arms = " ".join(f"WHEN :i = {k} THEN {v!r}" for k, v in enumerate(values[:-1]))
        lines.append(f"\\set {name} CASE {arms} ELSE {values[-1]!r} END")
    return "\n".join(lines) + "\n" + " ".join(_strip_comments(body).split()) + "\n"


def probe_pgbench(
    url: str, script: Path, *, rows: int = 0, size: int = 0, options: str = ""
) -> None:
    """Run the ceiling's pgbench script 25 times with its statement wrapped to measure
    its answer: fewer than ``rows`` rows (a page) or fewer than ``size`` bytes (a tile)
    fails the run. pgbench substitutes the variables itself, so this checks what the
    measured runs really ask (a wrong bbox would be a fast, empty answer)."""
    header, _, statement = script.read_text().rstrip().rstrip(";").rpartition("\n")
    if rows:
        measure, least = f"SELECT count(*) AS n FROM ({statement}) AS q", rows
    else:
        measure, least = f"SELECT coalesce(length(q.t), 0) AS n FROM ({statement}) AS q(t)", size
    probe = script.with_suffix(".probe.sql")
    probe.write_text(f"{header}\n{measure} \\gset\n\\if :n < {least}\nSELECT 1 / 0;\n\\endif\n")
    cmd = ["pgbench", "-n", "-M", "prepared", "-c1", "-t25", "-f", str(probe), libpq_url(url)]
    env = {**os.environ, "PGOPTIONS": options}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name}: the ceiling's answers are too small:\n{done.stderr}")


def run_pgbench(url: str, script: Path, seconds: float, options: str = "") -> dict[str, Any]:
    """``pgbench -n -M prepared -c8 -j2`` for ``seconds``; TPS without connection time."""
    env = {**os.environ, "PGOPTIONS": options}
    cmd = [
        "pgbench", "-n", "-M", "prepared", f"-c{CONNECTIONS}", f"-j{THREADS}",
        f"-T{max(1, round(seconds))}", "-f", str(script), libpq_url(url),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if done.returncode != 0 or tps is None or (failed and int(failed.group(1))):
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {"req_s": float(tps.group(1))}


# --- the benchmark ----------------------------------------------------------------------


def _versions(url: str) -> dict[str, str]:
    tipg = subprocess.run(
        [str(BENCH_VENV / "bin" / "python"), "-c",
         "import importlib.metadata as m; print(m.version('tipg'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    pgbench = subprocess.run(["pgbench", "--version"], capture_output=True, text=True, check=True)
    return {
        "tipg": tipg,
        "wrk": (wrk.stdout + wrk.stderr).split()[1],
        "pgbench": pgbench.stdout.strip(),
    }


def require_tools() -> None:
    missing = [t for t in ("wrk", "pgbench") if shutil.which(t) is None]
    if not (BENCH_VENV / "bin" / "python").exists():
        missing.append(f"TiPg in {BENCH_VENV}")
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run scripts/bench-setup first")


@dataclass
class Workload:
    """One workload: the path list each service gets, and the ceiling's pgbench script."""

    name: str
    paths: dict[str, tuple[Server, Path, list[str]]]
    script: Path
    options: str  # PGOPTIONS for the ceiling
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


VARIANTS = ("ceiling", "pgspatial", "TiPg")


def _workloads(
    url: str,
    workdir: Path,
    servers: Sequence[Server],
    boxes: list[Bbox],
    tiles: dict[str, list[Tile]],
) -> list[Workload]:
    """Path files for wrk and pgbench scripts for the ceilings, all from the same lists."""
    corners = ("xmin", "ymin", "xmax", "ymax")
    scripts = {
        "items": pgbench_script(
            ITEMS_CEILING.read_text(), {k: [b[n] for b in boxes] for n, k in enumerate(corners)}
        ),
        **{
            zoom: pgbench_script(
                TILE_CEILING.read_text(),
                {k: [t[n] for t in tiles[zoom]] for n, k in enumerate("zxy")},
            )
            for zoom in tiles
        },
    }
    workloads = []
    for name, body in scripts.items():
        script = workdir / f"ceiling-{name}.sql"
        script.write_text(body)
        paths = {}
        for server in servers:
            listed = (
                server.items_paths(boxes) if name == "items" else server.tile_paths(tiles[name])
            )
            path_file = workdir / f"{server.name}-{name}.paths"
            path_file.write_text("\n".join(listed) + "\n")
            paths[server.name] = (server, path_file, listed)
        options = "" if name == "items" else PARALLEL_OFF
        workloads.append(Workload(name, paths, script, options))
    return workloads


def _check(
    work: Workload, url: str, boxes: list[Bbox], tiles: dict[str, list[Tile]], n: int
) -> None:
    """Sample every path list on both services and the ceiling SQL before measuring."""
    for name, (server, _, paths) in work.paths.items():
        check = check_items if work.name == "items" else check_tiles
        work.checks[name] = check(server, paths[:n])
    if work.name == "items":
        work.checks["ceiling"] = {"features": check_ceiling_items(url, boxes[:n])}
        probe_pgbench(url, work.script, rows=PAGE, options=work.options)  # full pages
    else:
        work.checks["ceiling"] = {"features": check_ceiling_tiles(url, tiles[work.name][:n])}
        probe_pgbench(url, work.script, size=1000, options=work.options)  # real tiles


def _measure(work: Workload, variant: str, url: str, seconds: float) -> dict[str, Any]:
    if variant == "ceiling":
        return run_pgbench(url, work.script, seconds, work.options)
    server, path_file, paths = work.paths[variant]
    result = run_wrk(server.base, path_file, seconds, server.process.pid)
    # A wrong route answers fast and always fails: stop. A few failures are recorded and
    # shown instead (wrk hangs up on the requests in flight when a run ends, and a service
    # that mishandles that fails some requests of the next run: a bug worth seeing, not a
    # reason to lose the whole benchmark).
    if result["failed"] > MAX_FAILED_SHARE * result["requests"]:
        raise RuntimeError(
            f"{variant} {work.name}: {result['failed']} of {result['requests']} requests "
            f"failed under wrk; {diagnose(server, paths)}"
        )
    return result


def _middle(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _rows(
    workloads: Sequence[Workload],
    samples: dict[tuple[str, str], Samples],
    parcels: int,
    seconds: float,
    tipg_version: str,
) -> list[dict[str, Any]]:
    label = {
        "items": f"service /items bbox ~{PAGE:,} features, {parcels:,} parcels",
        "z15": f"service z15 tile, {parcels:,} parcels",
        "z13": f"service z13 tile, {parcels:,} parcels",
    }
    variant_label = {
        "ceiling": "pgbench of bench/sql/service_{}_ceiling.sql (ceiling)",
        "pgspatial": f"pgspatial service ({SERVER_CONFIG})",
        "TiPg": f"TiPg {tipg_version} ({SERVER_CONFIG})",
    }
    common = {
        "load": f"wrk -t{THREADS} -c{CONNECTIONS} -d{round(seconds)}s rotating paths; "
        f"pgbench -M prepared -c{CONNECTIONS} -j{THREADS} -T{round(seconds)}",
        "gzip_requested": False,
    }
    rows: list[dict[str, Any]] = []
    for work in workloads:
        ceiling = samples[work.name, "ceiling"].median
        ours = samples[work.name, "pgspatial"].median
        tipg = samples[work.name, "TiPg"].median
        min_tipg, min_ceiling = TARGETS[work.name]
        for variant in VARIANTS:
            got = samples[work.name, variant]
            check = work.checks[variant]
            row: dict[str, Any] = {
                "workload": label[work.name],
                "variant": variant_label[variant].format(
                    "items" if work.name == "items" else "tile"
                ),
                "req_s": round(got.median, 1),
                "ratio_to_ceiling": round(got.median / ceiling, 3),
                "samples_req_s": [round(v, 1) for v in got.values],
                "features_checked": check["features"],
                **common,
            }
            if variant == "ceiling":
                row["parallel_query"] = not work.options
            else:
                row["bytes_per_response"] = round(sum(check["bytes"]) / len(check["bytes"]))
                # what wrk received (headers included): a wrong, short answer shows here
                row["wrk_bytes_per_response"] = round(
                    sum(d["bytes"] for d in got.details)
                    / max(sum(d["requests"] for d in got.details), 1)
                )
                row["server_cpu_ms_per_request"] = round(
                    _middle([d["cpu_ms_per_request"] for d in got.details]), 2
                )
                row["p50_ms"] = round(_middle([d["p50_us"] for d in got.details]) / 1000, 1)
                row["failed_requests"] = sum(d["failed"] for d in got.details)
            if variant == "pgspatial":
                row["ratio_to_tipg"] = round(ours / tipg, 2)
                row["target"] = f">= {min_tipg}x TiPg and >= {min_ceiling:.0%} of the ceiling"
                row["target_met"] = ours >= min_tipg * tipg and ours >= min_ceiling * ceiling
            rows.append(row)
    return rows


def run_all(
    server_url: str,
    *,
    parcels: int,
    repeats: int,
    seconds: float | None = None,
    quick: bool = False,
    app: str = APP,
) -> list[dict[str, Any]]:
    """The three service workloads, each as pgspatial, TiPg and the SQL ceiling; rows of
    ``workload``, ``variant``, ``req_s`` (median of ``repeats`` rounds) and ratios.

    ``seconds`` per wrk/pgbench run: by default as long as keeps the measured part near
    80 s in ``quick`` mode (at most 5 s each), else near 5 minutes (at most 15 s each).
    One unmeasured warm-up round (1-2 s per run) comes first; then the rounds interleave
    every workload and variant.
    ``app`` is the factory uvicorn serves as pgspatial (another one to try a change).
    """
    require_tools()
    if seconds is None:  # the measured part: about 80 s quick, 5 min full
        budget, longest = (80.0, 5.0) if quick else (300.0, 15.0)
        seconds = max(2.0, min(longest, budget / (len(VARIANTS) * 3 * repeats)))
    warmup = 1.0 if quick else 2.0
    url = service_database(server_url)
    engine = create_engine(url, statement_timeout_ms=0)
    started = time.monotonic()
    loaded = ensure_parcels(engine, parcels)
    boxes = make_bboxes(engine)
    tiles = {"z15": make_tiles(engine, 15), "z13": make_tiles(engine, 13)}
    engine.dispose()
    prepared_s = time.monotonic() - started
    versions = _versions(url)
    samples = {(w, v): Samples() for w in ("items", *tiles) for v in VARIANTS}
    with (
        tempfile.TemporaryDirectory(prefix="pgspatial-bench-service-") as tmp,
        services(url, Path(tmp), app) as servers,
    ):
        workloads = _workloads(url, Path(tmp), servers, boxes, tiles)
        for work in workloads:
            _check(work, url, boxes, tiles, 5 if quick else 8)
        for work in workloads:  # warm-up round, not measured
            for variant in VARIANTS:
                _measure(work, variant, url, warmup)
        for _ in range(repeats):
            for work in workloads:
                for variant in VARIANTS:
                    result = _measure(work, variant, url, seconds)
                    samples[work.name, variant].values.append(result["req_s"])
                    samples[work.name, variant].details.append(result)
        for server in servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} died:\n{server.log.read_text()}")
    rows = _rows(workloads, samples, parcels, seconds, versions["tipg"])
    rows[0]["setup"] = {
        "parcels": parcels,
        "loaded_now": loaded,
        "prepare_s": round(prepared_s, 1),
        "repeats": repeats,
        "bboxes": len(boxes),
        "tiles": {k: len(v) for k, v in tiles.items()},
        "servers": f"each {SERVER_CONFIG}, 127.0.0.1; TiPg env {TIPG_ENV}",
        "versions": versions,
    }
    return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        extra = ""
        if "server_cpu_ms_per_request" in row:
            extra = f"  {row['server_cpu_ms_per_request']:>6.1f} ms CPU/req"
        if row.get("failed_requests"):
            extra += f"  ({row['failed_requests']} FAILED requests)"
        if "ratio_to_tipg" in row:
            verdict = "met" if row["target_met"] else "MISSED"
            extra += f"  {row['ratio_to_tipg']:>6.2f}x TiPg  target {verdict}"
        print(
            f"{row['workload'][:40]:<40} {row['variant'][:30]:<30} {row['req_s']:>7.1f} req/s "
            f"{row['ratio_to_ceiling']:>6.2f}x ceiling{extra}"
        )


def main() -> None:
    from pgspatial.local import resolve_database_url
    from pgspatial.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k parcels, 1 round of 5 s runs")
    parser.add_argument("--parcels", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="each wrk/pgbench run")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--app", default=APP, help=f"pgspatial's app factory (default {APP}), to try changes"
    )
    args = parser.parse_args()
    parcels = args.parcels or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)
    started = time.monotonic()
    rows = run_all(
        resolve_database_url(Settings()),
        parcels=parcels,
        repeats=repeats,
        seconds=args.seconds,
        quick=args.quick,
        app=args.app,
    )
    print_table(rows)
    print(f"({time.monotonic() - started:.0f} s; gzip not requested; figures are req/s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
