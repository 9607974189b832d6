"""Test helpers for code built on pgspatial; the fixtures live in :mod:`pgspatial.testing.plugin`.

``pip install pgspatial`` registers the plugin with pytest, so the ``pgspatial_*`` fixtures
are available in any test suite without a conftest.
"""

from __future__ import annotations

from pgspatial.testing.assertions import assert_geometry_equal, assert_index_scan
from pgspatial.testing.databases import FreshDatabase, fresh_database
from pgspatial.testing.pgbouncer import PgBouncer
from pgspatial.testing.statements import StatementCounter, count_statements

__all__ = [
    "FreshDatabase",
    "PgBouncer",
    "StatementCounter",
    "assert_geometry_equal",
    "assert_index_scan",
    "count_statements",
    "fresh_database",
]
