"""Report renderers: a rich table a DBA can act on, and the versioned JSON document.

The text report: one table row per check (status or level, id, title, result); then every
check that found something, worst first, with why it matters, each finding and its fix as
SQL (printed without wrapping, so it can be copied); the skipped checks with what to do to
run them; then the totals and, with ``fail_on``, the exit status and why.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pgspatial.doctor.model import SEVERITY_RANK, CheckResult, DoctorReport, Severity

if TYPE_CHECKING:
    from pgspatial.doctor.fixes import AppliedFix

__all__ = ["render_json", "render_text"]

_STYLE = {"info": "cyan", "warn": "yellow", "error": "bold red"}
_WIDTH = 120


def _status_cell(result: CheckResult) -> str:
    if result.status == "ok":
        return "[green]ok[/]"
    if result.status == "skipped":
        return "[dim]skipped[/]"
    level = result.level or result.severity
    return f"[{_STYLE[level]}]{level.upper()}[/]"


def _table(report: DoctorReport) -> Table:
    table = Table(show_lines=False, expand=False, header_style="bold")
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("title")
    table.add_column("result", overflow="fold")
    for result in report.results:
        shown = f"skipped: {result.skip_reason}" if result.status == "skipped" else result.summary
        table.add_row(_status_cell(result), result.id, escape(result.title), escape(shown))
    return table


def _details(result: CheckResult) -> list[str]:
    """The lines printed for a check that found something."""
    level = result.level or result.severity
    lines = [
        f"[{_STYLE[level]}]{level.upper()}[/] [bold]{result.id}[/] — {escape(result.title)}",
        f"  [dim]why:[/] {escape(result.why)}",
    ]
    for number, finding in enumerate(result.findings, 1):
        own = finding.level(result.severity)
        tag = f" [{_STYLE[own]}]({own})[/]" if own != level else ""
        lines.append(f"  {number}.{tag} {escape(finding.message)}")
        if finding.fix:
            safe = " [green](safe: --apply-safe-fixes runs it)[/]" if finding.safe else ""
            lines.append(f"     [dim]fix:[/]{safe}")
            lines.extend(f"       {escape(line)}" for line in finding.fix.splitlines())
    lines.extend(f"  [dim]note:[/] {escape(note)}" for note in result.notes)
    return lines


def _totals(report: DoctorReport) -> str:
    summary = report.summary()
    levels = ", ".join(f"{n} {level}" for level, n in summary["by_level"].items() if n)
    return (
        f"{summary['checks']} checks: {summary['ok']} ok, {summary['found']} found something"
        f"{f' ({levels})' if levels else ''}, {summary['skipped']} skipped"
    )


def render_text(
    report: DoctorReport,
    *,
    fail_on: Severity | None = None,
    applied: Sequence[AppliedFix] = (),
    width: int = _WIDTH,
    color: bool = False,
) -> str:
    """The report as text; ``color=True`` keeps ANSI colours (for a terminal)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        highlight=False,
        soft_wrap=False,
        force_terminal=color,
        no_color=not color,
    )
    database = report.database
    console.print(
        f"[bold]pgspatial doctor[/] — database {escape(str(database['name']))} as "
        f"{escape(str(database['user']))}, PostgreSQL {database['server_version']}, PostGIS "
        f"{database['postgis_version'] or 'not installed'}",
        soft_wrap=True,
    )
    console.print(_table(report))
    found = sorted(
        report.found,
        key=lambda r: -SEVERITY_RANK[r.level or r.severity],
    )
    if found:
        console.print()
        console.print("[bold]Findings and fixes[/] (worst first)")
        for result in found:
            console.print()
            for line in _details(result):
                console.print(line, soft_wrap=True)
    skipped = [r for r in report.results if r.status == "skipped"]
    if skipped:
        console.print()
        console.print("[bold]Skipped[/] (what to do to run them)")
        for result in skipped:
            console.print(
                f"  {result.id}: skipped: {escape(result.skip_reason or '')}", soft_wrap=True
            )
    notes = [r for r in report.results if r.status == "ok" and r.notes]
    for result in notes:
        for note in result.notes:
            console.print(f"[dim]note ({result.id}):[/] {escape(note)}", soft_wrap=True)
    if applied:
        console.print()
        console.print("[bold]Safe fixes applied[/]")
        for fix in applied:
            mark = "[green]done[/]" if fix.ok else "[bold red]FAILED[/]"
            console.print(
                f"  {mark} {escape(fix.statement)} — {escape(fix.message)}", soft_wrap=True
            )
    console.print()
    console.print(_totals(report))
    if fail_on is not None:
        worst = report.worst
        if report.fails(fail_on):
            console.print(
                f"[bold red]exit 1[/]: a check found {worst} (--fail-on {fail_on}); apply the "
                "fixes above and run the doctor again"
            )
        else:
            console.print(f"[green]exit 0[/]: nothing at {fail_on} or worse (--fail-on {fail_on})")
    return buffer.getvalue()


def render_json(report: DoctorReport, *, applied: Sequence[AppliedFix] | None = None) -> str:
    """The report as the versioned JSON document (schema: :data:`~pgspatial.doctor.JSON_SCHEMA`)."""
    document: dict[str, Any] = report.to_dict()
    if applied is not None:
        document["applied_fixes"] = [fix.to_dict() for fix in applied]
    return json.dumps(document, indent=2, default=str)
