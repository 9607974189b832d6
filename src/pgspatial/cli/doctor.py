"""``pgspatial doctor``: audit a live PostGIS database against the production checklist.

A thin adapter over :mod:`pgspatial.doctor`: parses the options, runs
:func:`~pgspatial.doctor.run_doctor`, prints the report, optionally applies the safe fixes,
and turns the worst finding into the exit status.

Exit status: 0 when nothing was found at ``--fail-on`` or worse (default: error); 1 when
something was, or a safe fix failed; 2 for usage errors (unknown check or threshold);
3 when PostgreSQL/PostGIS binaries are missing for the embedded cluster; 4 when the
database cannot be reached. Skipped checks never change the status.
"""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from pgspatial.errors import ClusterError, DatabaseUnavailable

if TYPE_CHECKING:
    from pgspatial.doctor import Severity

__all__ = ["EXIT_FOUND", "EXIT_OK", "EXIT_UNREACHABLE", "FailOn", "OutputFormat", "doctor_command"]

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_UNREACHABLE = 4


class OutputFormat(enum.StrEnum):
    """How the report is printed."""

    text = "text"
    json = "json"


class FailOn(enum.StrEnum):
    """The lowest level that makes the exit status 1."""

    warn = "warn"
    error = "error"


def _list_checks() -> None:
    from pgspatial.doctor import registry

    for check in registry():
        needs = ", ".join(check.needs) or "-"
        typer.echo(f"{check.id:<32} {check.severity:<6} {check.title}  [needs: {needs}]")


def doctor_command(  # noqa: PLR0917 - Typer maps each parameter to an option
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text (a table and the fixes) or json.")
    ] = OutputFormat.text,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when a check finds this level or worse."),
    ] = FailOn.error,
    check: Annotated[
        list[str] | None,
        typer.Option(
            "--check", help="Run only this check id or family (repeatable), e.g. index.duplicate."
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help="NAME=VALUE, e.g. unpartitioned_rows=1000000 (repeatable; docs/doctor.md).",
        ),
    ] = None,
    replica_url: Annotated[
        list[str] | None,
        typer.Option(
            "--replica-url",
            help="A standby to check for replay lag (repeatable; default PGSPATIAL_REPLICA_URLS).",
        ),
    ] = None,
    apply_safe_fixes: Annotated[
        bool,
        typer.Option(
            "--apply-safe-fixes",
            help="Run the safe fixes (ANALYZE, CREATE INDEX CONCURRENTLY), then audit again.",
        ),
    ] = False,
    list_checks: Annotated[
        bool, typer.Option("--list", help="List the check ids and exit.")
    ] = False,
) -> None:
    """Audit the database (DATABASE_URL, else the embedded cluster) for production readiness.

    Exit status: 0 nothing found at --fail-on or worse; 1 something was, or a safe fix failed;
    2 usage error; 3 PostgreSQL/PostGIS missing; 4 database unreachable. See docs/doctor.md.
    """
    if list_checks:
        _list_checks()
        raise typer.Exit(EXIT_OK)
    from pgspatial.doctor import apply_safe_fixes as apply_fixes
    from pgspatial.doctor import render_json, render_text, run_doctor, select_checks
    from pgspatial.doctor.thresholds import Thresholds, parse_threshold_assignments
    from pgspatial.local import resolve_database_url
    from pgspatial.settings import Settings

    select_checks(check)  # usage errors before any connection
    overrides = Thresholds().with_overrides(parse_threshold_assignments(threshold or []))
    settings = Settings()
    replicas = tuple(replica_url or settings.replica_urls)
    level: Severity = "warn" if fail_on is FailOn.warn else "error"
    try:
        url = resolve_database_url(settings)
        report = run_doctor(url, checks=check, replica_urls=replicas, thresholds=overrides)
        applied = None
        if apply_safe_fixes:
            fixes = report.safe_fixes()
            if output_format is OutputFormat.text:
                typer.echo(render_text(report, color=sys.stdout.isatty()))
                typer.echo(f"Applying {len(fixes)} safe fix(es):")
                for result, finding in fixes:
                    typer.echo(f"  [{result.id}] {finding.fix}")
            applied = apply_fixes(url, report)
            report = run_doctor(url, checks=check, replica_urls=replicas, thresholds=overrides)
    except (DatabaseUnavailable, ClusterError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    if output_format is OutputFormat.json:
        typer.echo(render_json(report, applied=applied))
    else:
        if applied is not None:
            typer.echo("After the safe fixes:")
        typer.echo(
            render_text(
                report, fail_on=level, applied=applied or (), color=sys.stdout.isatty()
            ).rstrip()
        )
    failed_fix = any(not fix.ok for fix in applied or ())
    raise typer.Exit(EXIT_FOUND if report.fails(level) or failed_fix else EXIT_OK)
