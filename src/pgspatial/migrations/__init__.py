"""Alembic support: an env.py helper, spatial-aware autogenerate, and online spatial ops.

Commands are an API first (``init_migrations``), the CLI is a thin adapter
(``pgspatial init-migrations DIR``). The ops run inside an Alembic migration::

    from pgspatial.migrations import create_spatial_index_concurrently

    def upgrade() -> None:
        create_spatial_index_concurrently("parcels", "geom")
"""

from __future__ import annotations

from pgspatial.migrations.autogen import include_object, render_item
from pgspatial.migrations.env import load_metadata, run_migrations
from pgspatial.migrations.init import init_migrations
from pgspatial.migrations.ops import (
    add_check_constraint_online,
    change_geometry_type,
    change_srid,
    create_spatial_index_concurrently,
    drop_spatial_index_concurrently,
)

__all__ = [
    "add_check_constraint_online",
    "change_geometry_type",
    "change_srid",
    "create_spatial_index_concurrently",
    "drop_spatial_index_concurrently",
    "include_object",
    "init_migrations",
    "load_metadata",
    "render_item",
    "run_migrations",
]
