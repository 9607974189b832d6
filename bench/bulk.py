"""Bulk load of 100k polygons (issue 11, row 1): pgspatial against the server-side COPY ceiling
and the peers, into the same empty, indexed table.

The target is ``bulk.parcels``, a copy of the generated ``parcels`` (``LIKE ... INCLUDING
ALL``: primary key, unique ``parcel_id``, GiST on ``geom``, btree on ``zoning_id``, validity
CHECK) whose ``id`` is an identity column, so loaders that do not carry the ids (the
GeoPackage paths) get them from the table. Before every variant, untimed: ``TRUNCATE ...
RESTART IDENTITY`` and ``CHECKPOINT``; after it, untimed: the row count is checked.

Sources, written once per run from the 100k dataset into a directory the server can read:
a binary COPY file (for the ceiling), a text COPY file with hex EWKB (psql ``\\copy``), a
GeoPackage (ogr2ogr), and the rows in memory as dicts with WKB geometries (for the Python
APIs, built before timing).

Variants:

- ceiling: ``bench/sql/bulk_copy_ceiling.sql``, server-side ``COPY FROM`` the binary file;
- pgspatial ``bulk_load`` of the in-memory rows, reject mode (every geometry checked),
  ANALYZE, commit — the issue's measured path;
- pgspatial ``load_file`` of the GeoPackage, in-process, and the ``pgspatial load`` command
  (a subprocess: Python start-up and imports included, as a user sees it);
- ``ogr2ogr -f PostgreSQL -append`` of the GeoPackage with ``PG_USE_COPY=YES`` (its fast
  path; by default it INSERTs into an existing table);
- psql ``\\copy`` of the text file (hex EWKB), the issue's orientation figure;
- psycopg ``executemany`` of ``bench/sql/bulk_executemany_reference.sql`` (the brief);
- ORM ``add_all`` of ``Parcel`` objects (mapped onto ``bulk`` with ``schema_translate_map``);
- geopandas ``read_file`` + ``to_postgis`` in ``.venv-bench`` (a subprocess; its own
  timing, imports excluded, so it compares with ``load_file`` in-process).

Only pgspatial validates every geometry and runs ANALYZE; the others store what they are
given (the table's CHECK still rejects invalid polygons).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from datasets import (
    ROOT,
    SQL,
    Dataset,
    Sample,
    interleaved,
    rows_of,
    run_command,
    scratch_dir,
)
from geoalchemy2 import WKBElement
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import text
from sqlalchemy.orm import Session

from pgspatial.bulk import bulk_load, load_file
from pgspatial.sampledata.models import Parcel

CEILING_SQL = SQL / "bulk_copy_ceiling.sql"
EXECUTEMANY_SQL = SQL / "bulk_executemany_reference.sql"
COLUMNS = "id, parcel_id, zoning_id, land_use, year_built, assessed_value"
BENCH_VENV = Path(os.environ.get("BENCH_VENV", ROOT / ".venv-bench"))
PGSPATIAL = ROOT / ".venv" / "bin" / "pgspatial"
GEOPANDAS_PACKAGES = ["geopandas", "pyarrow", "sqlalchemy", "psycopg[binary]", "geoalchemy2"]

GEOPANDAS_SCRIPT = """
import json, sys, time
started = time.perf_counter()
import geopandas, sqlalchemy
imported = time.perf_counter()
engine = sqlalchemy.create_engine(sys.argv[1])
t0 = time.perf_counter()
frame = geopandas.read_file(sys.argv[2], use_arrow=True).rename_geometry("geom")
# nullable integers arrive as float64 (NaN for NULL), which COPY refuses for integer columns
frame = frame.astype({"zoning_id": "Int64", "year_built": "Int64"})
t1 = time.perf_counter()
frame.to_postgis("parcels", engine, schema="bulk", if_exists="append", index=False)
t2 = time.perf_counter()
engine.dispose()
print(json.dumps({"import_s": imported - started, "read_s": t1 - t0, "write_s": t2 - t1,
                  "rows": len(frame), "geopandas": geopandas.__version__}))
"""

CEILING = "server COPY FROM file, binary (ceiling)"
CEILING_ANALYZE = "server COPY FROM file, binary, then ANALYZE (reference)"
DEFERRED_ANALYZE = (
    "server COPY FROM file, binary, plain indexes built after, then ANALYZE (reference)"
)
BULK_LOAD = "pgspatial bulk_load (reject mode, validation, ANALYZE)"
LOAD_FILE = "pgspatial load_file GeoPackage (in-process)"
LOAD_COMMAND = "pgspatial load GeoPackage (command)"
OGR2OGR = "ogr2ogr -f PostgreSQL GeoPackage (command, PG_USE_COPY)"
PSQL = "psql \\copy FROM file (text, hex EWKB)"
EXECUTEMANY = "psycopg executemany, ST_GeomFromWKB"
ORM = "ORM add_all + commit"
GEOPANDAS = "geopandas read_file + to_postgis (in-process)"


def gdal_conninfo(libpq: str) -> str:
    """``PG:`` datasource for GDAL, from a libpq URL."""
    parts = conninfo_to_dict(libpq)
    return "PG:" + " ".join(f"{key}={value}" for key, value in parts.items() if value)


def bench_python(log: Callable[[str], None]) -> Path | None:
    """``.venv-bench``'s python with geopandas (installed from PyPI when missing); None
    when there is no bench venv (``scripts/bench-setup`` makes it)."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        log(f"  {python} missing (run scripts/bench-setup): geopandas skipped")
        return None
    probe = subprocess.run(
        [str(python), "-c", "import geopandas, pyarrow, geoalchemy2, psycopg"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        log(f"  installing {' '.join(GEOPANDAS_PACKAGES)} into {BENCH_VENV}")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *GEOPANDAS_PACKAGES], check=True
        )
    return python


def _sources(dataset: Dataset) -> tuple[Path, Path, Path, list[dict[str, Any]]]:
    """The binary COPY file, the text COPY file, the GeoPackage and the in-memory rows."""
    directory = scratch_dir()
    binary = directory / f"parcels-{dataset.parcels}.bin"
    textual = directory / f"parcels-{dataset.parcels}.txt"
    gpkg = directory / f"parcels-{dataset.parcels}.gpkg"
    query = f"SELECT {COLUMNS}, geom FROM parcels ORDER BY id"
    with psycopg.connect(dataset.libpq) as conn, conn.cursor() as cursor:
        for path, options in ((binary, "(FORMAT binary)"), (textual, "")):
            with (
                open(path, "wb") as out,
                cursor.copy(f"COPY ({query}) TO STDOUT {options}") as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
            path.chmod(0o644)
        cursor.execute(f"SELECT {COLUMNS}, ST_AsBinary(geom) AS geom FROM parcels ORDER BY id")
        names = [d.name for d in cursor.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
    gpkg.unlink(missing_ok=True)
    run_command(["ogr2ogr", "-f", "GPKG", str(gpkg), gdal_conninfo(dataset.libpq), "parcels",
                 "-nln", "parcels"])  # fmt: skip
    gpkg.chmod(0o644)
    return binary, textual, gpkg, rows


def _create_target(dataset: Dataset) -> None:
    with dataset.engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS bulk"))
        conn.execute(text("DROP TABLE IF EXISTS bulk.parcels"))
        conn.execute(text("CREATE TABLE bulk.parcels (LIKE public.parcels INCLUDING ALL)"))
        conn.execute(
            text("ALTER TABLE bulk.parcels ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        )


def _ceiling_statement(binary: Path) -> sql.Composed:
    body = "\n".join(
        line for line in CEILING_SQL.read_text().splitlines() if not line.startswith("--")
    ).strip()
    head, tail = body.split(":'source'")
    return sql.Composed([sql.SQL(head), sql.Literal(str(binary)), sql.SQL(tail.rstrip(";"))])


def run_all(  # noqa: PLR0915 - the variants read best side by side
    dataset: Dataset, repeats: int, log: Callable[[str], None], *, quick: bool = False
) -> list[dict[str, Any]]:
    """Every variant, interleaved; medians and ratios to the ceiling. With ``quick`` the ORM
    (about 10x the others) runs in one round only."""
    n = dataset.parcels
    log(f"bulk: preparing sources from {n:,} parcels")
    binary, textual, gpkg, rows = _sources(dataset)
    _create_target(dataset)
    engine = dataset.engine
    env = {"DATABASE_URL": dataset.url}
    ceiling_statement = _ceiling_statement(binary)
    insert = EXECUTEMANY_SQL.read_text()
    orm_engine = engine.execution_options(schema_translate_map={None: "bulk"})
    python = bench_python(log)

    def ceiling() -> None:
        with psycopg.connect(dataset.libpq) as conn:
            conn.execute(ceiling_statement)

    def ceiling_and_analyze() -> None:
        # The ceiling plus the ANALYZE the issue requires of pgspatial's load: what no
        # loader that leaves fresh statistics can beat.
        with psycopg.connect(dataset.libpq) as conn:
            conn.execute(ceiling_statement)
            conn.execute("ANALYZE bulk.parcels")

    with psycopg.connect(dataset.libpq) as conn:
        plain = conn.execute(
            "SELECT format('%I.%I', n.nspname, c.relname), pg_get_indexdef(c.oid) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE i.indrelid = 'bulk.parcels'::regclass AND NOT i.indisunique"
        ).fetchall()

    def deferred_and_analyze() -> None:
        # What bulk_load does into an empty table, done by the server alone: the plain
        # indexes (GiST, zoning_id) dropped, the COPY, the indexes built, ANALYZE.
        with psycopg.connect(dataset.libpq) as conn:
            for name, _ in plain:
                conn.execute(f"DROP INDEX {name}")
            conn.execute(ceiling_statement)
            for _, definition in plain:
                conn.execute(definition)
            conn.execute("ANALYZE bulk.parcels")

    def with_bulk_load() -> Sample:
        report = bulk_load(engine, "bulk.parcels", rows)
        if report.rows_loaded != n or not report.analyzed:
            raise RuntimeError(report.summary())
        return Sample()

    def with_load_file() -> Sample:
        report = load_file(engine, gpkg, "parcels", schema="bulk")
        if report.rows_loaded != n or not report.analyzed:
            raise RuntimeError(report.summary())
        return Sample()

    def load_command() -> Sample:
        return run_command([str(PGSPATIAL), "load", str(gpkg), "--table", "parcels",
                            "--schema", "bulk"], env=env)  # fmt: skip

    def ogr2ogr() -> Sample:
        return run_command(["ogr2ogr", "--config", "PG_USE_COPY", "YES", "-f", "PostgreSQL",
                            gdal_conninfo(dataset.libpq), str(gpkg), "parcels",
                            "-nln", "bulk.parcels", "-append", "-gt", "unlimited"])  # fmt: skip

    def psql_copy() -> Sample:
        command = f"\\copy bulk.parcels ({COLUMNS}, geom) FROM '{textual}'"
        return run_command(["psql", dataset.libpq, "-q", "-v", "ON_ERROR_STOP=1", "-c", command])

    def executemany() -> None:
        with psycopg.connect(dataset.libpq) as conn, conn.cursor() as cursor:
            cursor.executemany(insert, rows)

    def orm_add_all() -> None:
        with Session(orm_engine) as session:
            session.add_all(
                Parcel(**{**row, "geom": WKBElement(row["geom"], srid=4326)}) for row in rows
            )
            session.commit()

    def geopandas() -> Sample:
        assert python is not None
        started = time.perf_counter()
        out = subprocess.run(
            [str(python), "-c", GEOPANDAS_SCRIPT, dataset.url, str(gpkg)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        found = json.loads(out.stdout.strip().splitlines()[-1])
        assert found["rows"] == n, found
        return Sample(found["read_s"] + found["write_s"], {
            "read_s": found["read_s"], "to_postgis_s": found["write_s"],
            "import_s": found["import_s"], "process_s": wall,
        })  # fmt: skip

    variants: dict[str, Callable[[], object]] = {
        CEILING: ceiling,
        CEILING_ANALYZE: ceiling_and_analyze,
        DEFERRED_ANALYZE: deferred_and_analyze,
        BULK_LOAD: with_bulk_load,
        LOAD_FILE: with_load_file,
        LOAD_COMMAND: load_command,
        OGR2OGR: ogr2ogr,
        PSQL: psql_copy,
        EXECUTEMANY: executemany,
        ORM: orm_add_all,
    }
    if python is not None:
        variants[GEOPANDAS] = geopandas

    def reset() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("TRUNCATE bulk.parcels RESTART IDENTITY"))
            conn.execute(text("CHECKPOINT"))

    def check(name: str) -> None:
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM bulk.parcels")).scalar_one()
        if loaded != n:
            raise RuntimeError(f"bulk: {name} left {loaded:,} rows, not {n:,}")

    log(f"bulk: {len(variants)} variants x {repeats} rounds (+1 warm-up)")
    measured = interleaved(
        variants, repeats, before=reset, after=check, once={ORM} if quick else (), log=log
    )
    reset()
    return rows_of(f"bulk load {n:,} polygons", measured, CEILING)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 11's targets for row 1."""
    by = {r["variant"]: r for r in rows}
    found = []
    if BULK_LOAD in by:
        ratio = by[BULK_LOAD]["ratio_to_ceiling"]
        found.append({"workload": "bulk load", "target": "bulk_load <= 1.15x server COPY",
                      "measured": f"{ratio:.2f}x", "met": ratio <= 1.15})  # fmt: skip
        if CEILING_ANALYZE in by:
            vs = by[BULK_LOAD]["median_s"] / by[CEILING_ANALYZE]["median_s"]
            found.append({"workload": "bulk load",
                          "target": "(reference) bulk_load vs server COPY + ANALYZE",
                          "measured": f"{vs:.2f}x", "met": None})  # fmt: skip
        if DEFERRED_ANALYZE in by:
            vs = by[BULK_LOAD]["median_s"] / by[DEFERRED_ANALYZE]["median_s"]
            found.append({"workload": "bulk load",
                          "target": "(reference) bulk_load vs server COPY, indexes after, "
                                    "ANALYZE",
                          "measured": f"{vs:.2f}x", "met": None})  # fmt: skip
    if LOAD_COMMAND in by and OGR2OGR in by:
        ratio = by[LOAD_COMMAND]["median_s"] / by[OGR2OGR]["median_s"]
        found.append({"workload": "bulk load",
                      "target": "`pgspatial load` GeoPackage no slower than ogr2ogr",
                      "measured": f"{ratio:.2f}x ogr2ogr", "met": ratio <= 1.0})  # fmt: skip
    return found
