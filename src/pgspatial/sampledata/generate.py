"""A deterministic generator of NYC-like parcels and zoning districts, for demos and tests.

Realistic-looking data exercises what toy data cannot: GiST selectivity on tens of thousands
of small irregular polygons, spatial joins between parcels and the multi-part districts that
cover them, and plans that change with table size. Everything is generated set-based inside
PostgreSQL (``INSERT ... SELECT`` over ``generate_series``), so a million parcels load in
well under two minutes, and every pseudo-random number is derived from ``md5(seed, ids)``
rather than ``random()``, so the same ``(parcels, seed)`` always gives byte-identical rows.

Layout (see ``sql/sampledata.sql``): a Manhattan-like grid of blocks (180-270 m by
60-90 m, streets 18-30 m) starting at lon -74.02, lat 40.70, about as tall as it is wide;
each block holds two back-to-back rows of lots with jittered, shared dividers. Zoning
districts are runs of blocks on a coarser jittered grid, each the union of its blocks'
cells (streets up to their centre lines included), some merged with a non-adjacent
district so they are genuinely multi-part.

The SQL uses a few ``pg_temp`` helper functions (gone with the session) and a temporary
table dropped at commit, so nothing but the two tables is left behind. Parcel vertices
are plain arithmetic rounded to 1e-7 degree; district outlines come from ``ST_Union``, so
they are byte-identical for a given GEOS version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from sqlalchemy import Connection, Engine, text

from pgspatial.errors import ConfigError

__all__ = [
    "MAX_PARCELS",
    "MIN_PARCELS",
    "PARCELS_TABLE",
    "ZONING_TABLE",
    "SampleCounts",
    "create_sample_schema",
    "load_sample_data",
]

PARCELS_TABLE = "parcels"
ZONING_TABLE = "zoning_districts"
MIN_PARCELS = 1_000
MAX_PARCELS = 1_000_000

_SCHEMA = ("drop", "create_zoning", "create_parcels")
_KEYS_AND_INDEXES = (
    "parcels_keys",
    "index_zoning_geom",
    "index_parcels_geom",
    "index_parcels_zoning_id",
)
_FUNCTIONS = ("fn_hash", "fn_uniform", "fn_lon", "fn_lat")
_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class SampleCounts:
    """How many rows :func:`load_sample_data` wrote to each table."""

    parcels: int
    zoning_districts: int


@cache
def _statements() -> dict[str, str]:
    """The named statements of ``sql/sampledata.sql``, one per ``-- name:`` section."""
    source = files("pgspatial").joinpath("sql/sampledata.sql").read_text(encoding="utf-8")
    parts = _SECTION.split(source)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _run(connection: Connection, *names: str, **params: int) -> None:
    for name in names:
        connection.execute(text(_statements()[name]), params)


def create_sample_schema(connection: Connection) -> None:
    """Drop and recreate the empty ``parcels`` and ``zoning_districts`` tables with indexes."""
    _run(connection, *_SCHEMA, *_KEYS_AND_INDEXES)


def load_sample_data(engine: Engine, *, parcels: int, seed: int = 42) -> SampleCounts:
    """Replace both tables with ``parcels`` generated parcels and the districts covering them.

    Runs in one transaction, so a failure leaves the previous tables untouched, then ANALYZEs.
    """
    if isinstance(parcels, bool) or not MIN_PARCELS <= parcels <= MAX_PARCELS:
        raise ConfigError(
            f"parcels must be between {MIN_PARCELS:,} and {MAX_PARCELS:,} inclusive, "
            f"got {parcels!r}"
        )
    if isinstance(seed, bool) or not -(2**63) <= seed < 2**63:
        raise ConfigError(f"seed must be an integer that fits in 64 bits, got {seed!r}")
    with engine.begin() as connection:
        _run(connection, *_SCHEMA, *_FUNCTIONS)
        _run(connection, "blocks", "zoning", "parcels", parcels=parcels, seed=seed)
        _run(connection, *_KEYS_AND_INDEXES)
        counts = (
            f"SELECT (SELECT count(*) FROM {PARCELS_TABLE}), (SELECT count(*) FROM {ZONING_TABLE})"
        )
        row = connection.execute(text(counts)).one()
    with engine.begin() as connection:
        connection.execute(text(f"ANALYZE {PARCELS_TABLE}, {ZONING_TABLE}"))
    return SampleCounts(parcels=row[0], zoning_districts=row[1])
