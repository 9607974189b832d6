"""Bulk loads at COPY speed: ``bulk_load`` for iterables of rows, ``load_file`` for GIS files.

Both stream binary COPY (errata 9) in one transaction, check every geometry by
:func:`pgspatial.geometry.parse_geometry`'s rules (vectorized, with its exact messages for
the rows that fail), ANALYZE the table, and return a :class:`LoadReport`; a load that meets
rows it may not store either skips them into a report file or commits nothing and raises
:class:`~pgspatial.errors.LoadRejected`.

``bulk_load`` (which names tables by SQLAlchemy models) is imported on first use: the
loader's core runs on psycopg alone, so ``pgspatial load`` never imports SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgspatial.bulk.files import load_file
from pgspatial.bulk.ogr import LayerInfo, describe_layer
from pgspatial.bulk.report import MAX_LISTED_REJECTS, LoadReport, OnInvalid, Reject
from pgspatial.lazyexports import lazy_exports

if TYPE_CHECKING:
    from pgspatial.bulk.load import bulk_load

__all__ = [
    "MAX_LISTED_REJECTS",
    "LayerInfo",
    "LoadReport",
    "OnInvalid",
    "Reject",
    "bulk_load",
    "describe_layer",
    "load_file",
]

__getattr__ = lazy_exports(__name__, {"bulk_load": "pgspatial.bulk.load"})
