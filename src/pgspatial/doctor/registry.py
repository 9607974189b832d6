"""The check registry: every check's id, family, title, severity, rationale and requirements.

Each family module (:mod:`pgspatial.doctor.checks`) declares its checks as a ``CHECKS``
tuple of :class:`Check` values; :data:`REGISTRY` is their concatenation, in a fixed order.
Nothing registers itself at import time. Ids are stable: CI filters, docs and tests rely on
them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from pgspatial.errors import ConfigError

if TYPE_CHECKING:
    from pgspatial.doctor.context import Context
    from pgspatial.doctor.model import Finding, Severity

__all__ = ["Check", "Requirement", "Skip", "registry", "select_checks"]

Requirement: TypeAlias = Literal[
    "postgis", "pg_stat_statements", "pgstattuple", "read_all_stats", "stat_scan_tables"
]
"""What a check needs: an extension in the database, or a privilege of the role."""


class Skip(Exception):
    """Raised by a check that cannot run here; the message is the reason shown to the user.

    The message says what to do, e.g. ``"needs SELECT on the spatial tables: GRANT ..."``.
    """


@dataclass(frozen=True)
class Check:
    """One audit: a stable id, what it looks at and why, and the function that runs it."""

    id: str
    """``family.name``, e.g. ``index.duplicate``."""
    title: str
    severity: Severity
    """The severity of its findings unless a finding says otherwise."""
    why: str
    """Why it matters in production, in two or three sentences."""
    run: Callable[[Context], Iterable[Finding]]
    needs: tuple[Requirement, ...] = ("postgis",)
    safe_fix: bool = False
    """Whether its fixes may be applied by ``--apply-safe-fixes``."""

    @property
    def family(self) -> str:
        """The id's prefix: extension, column, index, stats, vacuum, bloat, workload, ..."""
        return self.id.split(".", 1)[0]


def registry() -> tuple[Check, ...]:
    """Every check, family by family (extension, columns, indexes, statistics and vacuum,
    bloat, workload, settings, scale)."""
    from pgspatial.doctor.checks import all_checks

    return all_checks()


def select_checks(wanted: Sequence[str] | None) -> tuple[Check, ...]:
    """The checks named by id or by family (``index`` selects every ``index.*`` check).

    None or empty selects them all; an unknown name is a ConfigError listing close ids.
    """
    checks = registry()
    if not wanted:
        return checks
    ids = {check.id for check in checks}
    families = {check.family for check in checks}
    chosen: set[str] = set()
    for raw in wanted:
        name = raw.strip().removesuffix(".*")
        if name in ids:
            chosen.add(name)
        elif name in families:
            chosen.update(check.id for check in checks if check.family == name)
        else:
            close = difflib.get_close_matches(name, sorted(ids | families), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown doctor check {raw!r}.{hint} Give a check id or a family "
                f"({', '.join(sorted(families))}); `pgspatial doctor --list` prints the ids."
            )
    return tuple(check for check in checks if check.id in chosen)
