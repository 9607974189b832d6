"""The doctor's value types: what a check found, how one check ended, and the whole report.

Plain frozen dataclasses with ``to_dict()`` methods that produce the documented JSON
document (see :mod:`pgspatial.doctor.schema`), so the renderers, the CLI and CI scripts all
read the same structure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "SEVERITIES",
    "SEVERITY_RANK",
    "CheckResult",
    "DoctorReport",
    "Finding",
    "JSONScalar",
    "Severity",
    "Status",
]

Severity: TypeAlias = Literal["info", "warn", "error"]
Status: TypeAlias = Literal["ok", "found", "skipped"]
JSONScalar: TypeAlias = str | int | float | bool | None

SEVERITIES: tuple[Severity, ...] = ("info", "warn", "error")
SEVERITY_RANK: Mapping[Severity, int] = {"info": 0, "warn": 1, "error": 2}


@dataclass(frozen=True)
class Finding:
    """One problem a check found: where it is, the numbers behind it, and the fix as SQL."""

    message: str
    """What was found, with the numbers, in one or two sentences."""
    fix: str | None = None
    """SQL that fixes it (comments say what to review first), or None when no SQL can."""
    severity: Severity | None = None
    """Overrides the check's severity for this finding (e.g. info while statistics are young)."""
    table: str | None = None
    """``schema.table``, quoted only where PostgreSQL needs it."""
    column: str | None = None
    index: str | None = None
    details: Mapping[str, JSONScalar] = field(default_factory=dict)
    """The measured numbers (rows, sizes, percentages, ...) for scripts."""
    safe: bool = False
    """Whether ``fix`` is one statement ``--apply-safe-fixes`` may run (ANALYZE, CREATE INDEX
    CONCURRENTLY of a missing spatial index)."""

    def level(self, default: Severity) -> Severity:
        """This finding's severity, falling back to its check's."""
        return self.severity or default

    def to_dict(self, default: Severity) -> dict[str, Any]:
        """The finding as the JSON document spells it."""
        return {
            "severity": self.level(default),
            "message": self.message,
            "table": self.table,
            "column": self.column,
            "index": self.index,
            "details": dict(self.details),
            "fix": self.fix,
            "safe": self.safe,
        }


@dataclass(frozen=True)
class CheckResult:
    """How one check ended: ``ok``, ``found`` (with findings) or ``skipped`` (with a reason)."""

    id: str
    family: str
    title: str
    severity: Severity
    """The check's declared severity; findings may lower or raise it (see ``level``)."""
    why: str
    status: Status
    summary: str
    """One line: what was checked and what came out."""
    findings: tuple[Finding, ...] = ()
    skip_reason: str | None = None
    notes: tuple[str, ...] = ()
    """Caveats of a partial result, e.g. tables the role could not read."""
    duration_ms: float = 0.0

    @property
    def level(self) -> Severity | None:
        """The worst severity among the findings; None unless ``status == "found"``."""
        if self.status != "found" or not self.findings:
            return None
        return max((f.level(self.severity) for f in self.findings), key=SEVERITY_RANK.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON document spells it."""
        return {
            "id": self.id,
            "family": self.family,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "level": self.level,
            "summary": self.summary,
            "why": self.why,
            "skip_reason": self.skip_reason,
            "notes": list(self.notes),
            "duration_ms": round(self.duration_ms, 1),
            "findings": [finding.to_dict(self.severity) for finding in self.findings],
        }


@dataclass(frozen=True)
class DoctorReport:
    """Everything one doctor run found, in registry order."""

    results: tuple[CheckResult, ...]
    database: Mapping[str, JSONScalar]
    """``name``, ``user``, ``server_version``, ``postgis_version``."""
    thresholds: Mapping[str, JSONScalar]
    generated_at: str
    """UTC, ISO 8601."""
    pgspatial_version: str

    def result(self, check_id: str) -> CheckResult:
        """The result of the check ``check_id``; KeyError lists the ids that ran."""
        for result in self.results:
            if result.id == check_id:
                return result
        ran = ", ".join(r.id for r in self.results)
        raise KeyError(f"no check {check_id!r} in this report; it ran: {ran}")

    @property
    def found(self) -> tuple[CheckResult, ...]:
        """The checks that found something."""
        return tuple(r for r in self.results if r.status == "found")

    @property
    def worst(self) -> Severity | None:
        """The worst level found, or None when every check passed or was skipped."""
        worst: Severity | None = None
        for result in self.found:
            level = result.level
            if level is not None and (worst is None or SEVERITY_RANK[level] > SEVERITY_RANK[worst]):
                worst = level
        return worst

    def fails(self, fail_on: Severity) -> bool:
        """Whether a check found something at ``fail_on`` or worse."""
        worst = self.worst
        return worst is not None and SEVERITY_RANK[worst] >= SEVERITY_RANK[fail_on]

    def safe_fixes(self) -> tuple[tuple[CheckResult, Finding], ...]:
        """The findings whose fix ``--apply-safe-fixes`` may run, in report order."""
        return tuple((r, f) for r in self.found for f in r.findings if f.safe and f.fix)

    def summary(self) -> dict[str, Any]:
        """Counts per status and per level, and the worst level."""
        by_level = dict.fromkeys(SEVERITIES, 0)
        for result in self.found:
            if result.level is not None:
                by_level[result.level] += 1
        return {
            "checks": len(self.results),
            "ok": sum(r.status == "ok" for r in self.results),
            "found": len(self.found),
            "skipped": sum(r.status == "skipped" for r in self.results),
            "by_level": by_level,
            "worst": self.worst,
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as the versioned JSON document (:data:`pgspatial.doctor.JSON_SCHEMA`)."""
        from pgspatial.doctor.schema import SCHEMA_VERSION

        return {
            "schema_version": SCHEMA_VERSION,
            "tool": "pgspatial doctor",
            "pgspatial_version": self.pgspatial_version,
            "generated_at": self.generated_at,
            "database": dict(self.database),
            "thresholds": dict(self.thresholds),
            "summary": self.summary(),
            "checks": [result.to_dict() for result in self.results],
        }
