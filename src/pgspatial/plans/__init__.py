"""Plans: what PostgreSQL will do with a statement, and what is wrong with it.

- :func:`explain` / :func:`explain_async` run ``EXPLAIN (FORMAT JSON)`` through the real
  execution path and return a :class:`Plan` (``uses_index``, ``seq_scans``, ``verdict``).
- :func:`lint` reads a statement (SQLAlchemy or SQL text) with PostgreSQL's own parser and
  reports spatial anti-patterns as :class:`Finding` objects with stable codes (:data:`RULES`).
"""

from __future__ import annotations

from pgspatial.plans.explain import explain, explain_async
from pgspatial.plans.findings import RULES, Finding, Severity
from pgspatial.plans.lint import lint
from pgspatial.plans.model import Plan, PlanNode
from pgspatial.plans.sqltext import literal_text

__all__ = [
    "RULES",
    "Finding",
    "Plan",
    "PlanNode",
    "Severity",
    "explain",
    "explain_async",
    "lint",
    "literal_text",
]
