"""``pgspatial doctor``: a production-readiness audit of a live PostGIS database.

:func:`run_doctor` runs a registry of checks, one module per family
(:mod:`pgspatial.doctor.checks`): extension, columns, indexes, statistics and vacuum,
bloat, workload, settings, scale. Each check has a stable id (``index.duplicate``), a
title, a severity (info, warn, error), why it matters, and for each finding the numbers
behind it and the fix as SQL. A check whose extension or privilege is missing is
``skipped`` with the reason ("install pgstattuple: ...", "needs pg_read_all_stats: ..."),
never an exception. Nothing is changed: every check runs in a READ ONLY transaction;
:func:`apply_safe_fixes` is the only writer, and runs only ANALYZE and CREATE INDEX
CONCURRENTLY of missing spatial indexes.

::

    from pgspatial.doctor import run_doctor, render_text
    report = run_doctor(engine, unpartitioned_rows=10_000_000)   # thresholds by name
    print(render_text(report, fail_on="warn"))
    report.fails("warn")           # what the CLI's --fail-on turns into exit status 1
    report.to_dict()               # the versioned JSON document (JSON_SCHEMA)

docs/doctor.md lists the checks, thresholds, the JSON schema and the exit codes.
"""

from __future__ import annotations

from pgspatial.doctor.fixes import AppliedFix, apply_safe_fixes
from pgspatial.doctor.model import (
    SEVERITIES,
    SEVERITY_RANK,
    CheckResult,
    DoctorReport,
    Finding,
    Severity,
    Status,
)
from pgspatial.doctor.registry import Check, Skip, registry, select_checks
from pgspatial.doctor.render import render_json, render_text
from pgspatial.doctor.runner import run_doctor
from pgspatial.doctor.schema import JSON_SCHEMA, SCHEMA_VERSION, validate_document
from pgspatial.doctor.statements import is_spatial_text
from pgspatial.doctor.thresholds import Thresholds

__all__ = [
    "JSON_SCHEMA",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "SEVERITY_RANK",
    "AppliedFix",
    "Check",
    "CheckResult",
    "DoctorReport",
    "Finding",
    "Severity",
    "Skip",
    "Status",
    "Thresholds",
    "apply_safe_fixes",
    "is_spatial_text",
    "registry",
    "render_json",
    "render_text",
    "run_doctor",
    "select_checks",
    "validate_document",
]
