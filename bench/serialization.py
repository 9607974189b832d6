"""GeoJSON FeatureCollection of 100k parcels: pgspatial against psql's ``\\copy`` ceiling,
and the alternatives issue 6 asked us to measure (splicing fetched per-row strings,
``json_agg`` in one value, ORM + Shapely in Python).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from datasets import interleaved, rows_of, settle
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pgspatial.sampledata.models import Parcel
from pgspatial.serialize import feature_collection
from pgspatial.urls import libpq_url

CEILING_SQL = Path(__file__).parent / "sql" / "geojson_copy_ceiling.sql"
CEILING = "psql \\copy (ceiling)"
ORM = "ORM + Shapely + orjson"
FEATURE_SQL = """
SELECT concat('{"type":"Feature","id":', to_json(id)::text, ',"geometry":', ST_AsGeoJSON(geom, 15),
       ',"properties":', json_build_object('parcel_id', parcel_id, 'zoning_id', zoning_id,
       'land_use', land_use, 'year_built', year_built, 'assessed_value', assessed_value)::text, '}')
FROM parcels
"""


def psql_copy(url: str) -> Callable[[], object]:
    """The ceiling: psql \\copy of the same feature text to /dev/null."""

    def run() -> object:
        return subprocess.run(
            ["psql", libpq_url(url), "-q", "-v", "ON_ERROR_STOP=1", "-f", str(CEILING_SQL)],
            check=True, capture_output=True,
        )  # fmt: skip

    return run


def pgspatial_copy(engine: Engine) -> Callable[[], object]:
    def run() -> object:
        with Session(engine) as session:
            return len(feature_collection(session, select(Parcel), id_column="id"))

    return run


def fetched_strings(engine: Engine) -> Callable[[], object]:
    """Per-row strings fetched through a cursor and joined (no parsing)."""

    def run() -> object:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(FEATURE_SQL).scalars().all()
        body = ",".join(rows).encode()
        return len(b'{"type":"FeatureCollection","features":[' + body + b"]}")

    return run


def json_agg(engine: Engine) -> Callable[[], object]:
    """One json_agg value built by the server, fetched as text."""
    sql = (
        "SELECT json_build_object('type', 'FeatureCollection', 'features', "
        f"json_agg(f::json))::text FROM ({FEATURE_SQL}) AS t(f)"
    )

    def run() -> object:
        with engine.connect() as conn:
            return len(conn.exec_driver_sql(sql).scalar_one().encode())

    return run


def orm_shapely(engine: Engine) -> Callable[[], object]:
    """The brief's application-side serialization: ORM objects, to_shape, mapping, orjson."""

    def run() -> object:
        with Session(engine) as session:
            features: list[dict[str, Any]] = [
                {
                    "type": "Feature",
                    "id": p.id,
                    "geometry": mapping(to_shape(p.geom)),
                    "properties": {
                        "parcel_id": p.parcel_id,
                        "zoning_id": p.zoning_id,
                        "land_use": p.land_use,
                        "year_built": p.year_built,
                        "assessed_value": float(p.assessed_value),
                    },
                }
                for p in session.scalars(select(Parcel))
            ]
        return len(orjson.dumps({"type": "FeatureCollection", "features": features}))

    return run


def run_all(engine: Engine, url: str, repeats: int, *, quick: bool = False) -> list[dict[str, Any]]:
    """Every variant, interleaved with the ceiling round by round; ratios to the ceiling.
    With ``quick`` the ORM path (about 10x the others) runs in one round only."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
    variants: dict[str, Callable[[], object]] = {
        CEILING: psql_copy(url),
        "pgspatial feature_collection (COPY, spliced)": pgspatial_copy(engine),
        "fetched per-row strings, joined": fetched_strings(engine),
        "json_agg, one value": json_agg(engine),
        ORM: orm_shapely(engine),
    }
    # Settle the freshly loaded table (hint bits, visibility map, statistics) so no variant
    # pays for it, then interleave the variants (rotating order, one warm-up round).
    settle(engine, "parcels")
    measured = interleaved(variants, repeats, once={ORM} if quick else ())
    return rows_of(f"geojson {rows:,} features", measured, CEILING)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 11's target for row 2: pgspatial within 1.3x psql's ``\\copy``."""
    return [
        {"workload": row["workload"], "target": "feature_collection <= 1.3x psql \\copy",
         "measured": f"{row['ratio_to_ceiling']:.2f}x", "met": row["ratio_to_ceiling"] <= 1.3}
        for row in rows
        if row["variant"].startswith("pgspatial")
    ]  # fmt: skip
