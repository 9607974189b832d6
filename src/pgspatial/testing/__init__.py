"""Test helpers for code built on pgspatial; the fixtures live in :mod:`pgspatial.testing.plugin`.

``pip install pgspatial`` registers the plugin with pytest, so the ``pgspatial_*`` fixtures
are available in any test suite without a conftest.
"""

from __future__ import annotations

from pgspatial.testing.databases import FreshDatabase, fresh_database
from pgspatial.testing.pgbouncer import PgBouncer
from pgspatial.testing.statements import StatementCounter, count_statements

__all__ = ["FreshDatabase", "PgBouncer", "StatementCounter", "count_statements", "fresh_database"]
