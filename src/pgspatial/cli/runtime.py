"""Process set-up for the commands that move many rows (``load``, ``export``)."""

from __future__ import annotations

import gc

__all__ = ["freeze_imports"]


def freeze_imports() -> None:
    """Move everything imported so far out of the cyclic garbage collector's sight.

    A command process lives only as long as its command, and its imports (SQLAlchemy,
    GeoAlchemy2, pydantic, NumPy, ...) leave ~100k tracked objects that every full
    collection walks again. Rows streaming through psycopg trigger those collections, and
    one more runs at exit. Measured: ``pgspatial load`` of 100k rows spent 0.3 s in the
    exit collection alone, and ``pgspatial export`` of 1M features took 3.5-3.9 s before
    and 3.1-3.2 s after (``gc.freeze()`` after the imports, same database, alternating).
    """
    gc.freeze()
