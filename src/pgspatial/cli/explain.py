"""``pgspatial explain``: the plan verdict of one statement, its tree and its lint findings.

A thin adapter over :func:`pgspatial.plans.explain` and :func:`pgspatial.plans.lint`.
Exit status: 0 when the plan uses an index and reads no table estimated at more than
``--max-seq-rows`` rows sequentially; 1 otherwise (also when PostGIS refuses the statement
with a pgspatial error, e.g. mixed SRIDs); 2 for usage errors and SQL that PostgreSQL
rejects. Lint findings are reported but do not change the exit status.
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pgspatial.errors import ConfigError

if TYPE_CHECKING:
    from pgspatial.plans import Plan

__all__ = ["OutputFormat", "explain_command"]


class OutputFormat(enum.StrEnum):
    """How the result is printed."""

    text = "text"
    json = "json"


def _read_sql(sql: str | None, file: Path | None) -> str:
    if (sql is None) == (file is None):
        raise ConfigError('give the statement either as an argument ("SELECT ...") or --file F')
    if file is not None:
        try:
            sql = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot read {file}: {error.strerror}") from None
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise ConfigError("the statement is empty; pass a SELECT, INSERT, UPDATE or DELETE")
    return text


def _status_line(plan: Plan, max_seq_rows: int) -> str:
    """The last line of the text output: the exit status and why."""
    if plan.acceptable(max_seq_rows=max_seq_rows):
        return (
            f"ok (exit 0): an index is used and no table over {max_seq_rows:,} estimated rows "
            "is read sequentially"
        )
    reasons = [] if plan.uses_index() else ["no index is used"]
    reasons += [
        f"a sequential scan reads {n.relation} ({n.estimated_table_rows:,.0f} rows estimated, "
        f"over --max-seq-rows {max_seq_rows:,})"
        for n in plan.large_seq_scans(max_seq_rows)
    ]
    return f"NOT OK (exit 1): {'; '.join(reasons)}"


def explain_command(
    sql: Annotated[
        str | None, typer.Argument(help='The statement, e.g. "SELECT ... WHERE ...".')
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the statement from F ('-': stdin).")
    ] = None,
    analyze: Annotated[
        bool,
        typer.Option("--analyze", help="Run it (EXPLAIN ANALYZE); data changes are rolled back."),
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text, or json for scripts.")
    ] = OutputFormat.text,
    max_seq_rows: Annotated[
        int,
        typer.Option(
            "--max-seq-rows",
            min=0,
            help="Largest table (estimated rows) a sequential scan may read.",
        ),
    ] = 10_000,
) -> None:
    """Show whether a statement uses an index, its plan and its spatial lint findings.

    Exit status 0 when an index is used and no table over --max-seq-rows estimated rows is
    read sequentially, 1 otherwise, 2 for usage errors and SQL that PostgreSQL rejects. Lint
    findings are printed but do not change the exit status.
    """
    from sqlalchemy.exc import DBAPIError

    from pgspatial.catalog import Catalog
    from pgspatial.engine import create_engine
    from pgspatial.local import resolve_database_url
    from pgspatial.plans import explain, lint, literal_text
    from pgspatial.settings import Settings

    text = _read_sql(sql, file)
    statement = literal_text(text)  # colons are literal: no SQLAlchemy parameters here
    engine = create_engine(resolve_database_url(Settings()))
    try:
        with engine.connect() as connection:
            findings = lint(statement, catalog=Catalog.load(connection))
            try:
                plan = explain(connection, statement, analyze=analyze)
            except DBAPIError as error:
                diag = getattr(error.orig, "diag", None)
                reason = getattr(diag, "message_primary", None) or str(error.orig)
                raise ConfigError(
                    f"PostgreSQL rejected the statement: {reason}. Fix the SQL and run again."
                ) from None
    finally:
        engine.dispose()
    ok = plan.acceptable(max_seq_rows=max_seq_rows)
    if output_format is OutputFormat.json:
        document = {
            "ok": ok,
            "max_seq_rows": max_seq_rows,
            **plan.summary(),
            "lint": [finding.to_dict() for finding in findings],
            "sql": text,
        }
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
        typer.echo(plan.verdict())
        typer.echo("")
        typer.echo(plan.to_text())
        typer.echo("")
        if findings:
            typer.echo(f"lint: {len(findings)} finding(s)")
            for finding in findings:
                typer.echo(f"  {finding}")
        else:
            typer.echo("lint: no spatial anti-patterns found")
        typer.echo(_status_line(plan, max_seq_rows))
    raise typer.Exit(0 if ok else 1)
