"""Deterministic NYC-like demo data and the example models that map it.

Shared by the tests, the benchmarks and ``pgspatial demo``: :func:`load_sample_data` fills
``parcels`` and ``zoning_districts`` set-based in SQL; :mod:`pgspatial.sampledata.models`
declares the same tables with :func:`pgspatial.spatial_column`, and a test holds the two
to each other with :func:`pgspatial.verify_schema`.
"""

from __future__ import annotations

from pgspatial.sampledata.generate import (
    MAX_PARCELS,
    MIN_PARCELS,
    PARCELS_TABLE,
    ZONING_TABLE,
    SampleCounts,
    create_sample_schema,
    load_sample_data,
)

__all__ = [
    "MAX_PARCELS",
    "MIN_PARCELS",
    "PARCELS_TABLE",
    "ZONING_TABLE",
    "SampleCounts",
    "create_sample_schema",
    "load_sample_data",
]
