"""The doctor's thresholds: one frozen dataclass, overridable by name from Python and the CLI.

Every limit a check compares with lives here, so a test can make the 50-million-row check
fire on a thousand rows (``run_doctor(engine, unpartitioned_rows=1_000)``) and a team can
tune the audit to its own scale (``pgspatial doctor --threshold slow_mean_ms=50``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from pgspatial.errors import ConfigError

__all__ = ["Thresholds", "parse_threshold_assignments"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Thresholds:
    """Limits of the checks; docs/doctor.md has the table of names, defaults and checks."""

    # columns
    sample_rows: int = 10_000
    """Rows read per table when sampling SRIDs and validity (TABLESAMPLE above this)."""
    invalid_reasons_top: int = 5
    """How many ST_IsValidReason reasons to report per column."""
    # indexes
    missing_index_min_rows: int = 10_000
    """A spatial column without a spatial index is reported from this many rows."""
    unused_index_min_stats_days: float = 7.0
    """idx_scan = 0 is a warning only when the statistics are at least this old (else info)."""
    # statistics and vacuum
    stale_stats_ratio: float = 0.2
    """n_mod_since_analyze / rows above which statistics are stale."""
    stale_stats_min_rows: int = 1_000
    """... and at least this many modified rows."""
    dead_tuple_ratio: float = 0.2
    """n_dead_tup / (rows + n_dead_tup) above which a table needs a VACUUM."""
    dead_tuple_min: int = 10_000
    """... and at least this many dead tuples."""
    large_table_rows: int = 1_000_000
    """From this many rows, a table should not use the default autovacuum scale factors."""
    # bloat
    bloat_min_index_bytes: int = _MIB
    """Indexes smaller than this are not measured for bloat."""
    gist_prefilter_ratio: float = 2.0
    """GiST size / (rows x bytes per entry) above which pgstattuple measures the index."""
    gist_bloat_percent: float = 60.0
    """pgstattuple free_percent + dead_tuple_percent above which a GiST index is bloated."""
    btree_bloat_percent: float = 40.0
    """1 - avg_leaf_density / fillfactor (percent) above which a B-tree is bloated."""
    # workload
    workload_top: int = 50
    """How many spatial statements (by total time) are read from pg_stat_statements."""
    slow_mean_ms: float = 100.0
    """Mean execution time above which a spatial statement is slow ..."""
    slow_min_calls: int = 100
    """... when it ran at least this many times."""
    seq_scan_min_rows: int = 10_000
    """Tables below this many rows may be scanned sequentially without a finding."""
    seq_scan_min_count: int = 100
    """Sequential scans (since the statistics were reset) before a table is judged ..."""
    seq_scan_ratio: float = 0.5
    """... and the share of sequential among all scans above which it is seq-scan-heavy."""
    # settings
    random_page_cost_max: float = 2.0
    """random_page_cost above this is a spinning-disk setting (the default is 4)."""
    work_mem_min_mb: float = 16.0
    """work_mem below this (the default is 4MB) spills spatial sorts and hashes to disk."""
    # scale
    unpartitioned_rows: int = 50_000_000
    """Tables above this many rows should be partitioned."""
    replica_lag_bytes: int = 64 * _MIB
    """Replay lag in bytes of WAL above which a replica is lagging ..."""
    replica_lag_seconds: float = 30.0
    """... or replay lag in seconds."""
    # the runner
    check_timeout_ms: int = 60_000
    """statement_timeout of each check's statements (pgstattuple reads whole indexes)."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every threshold name."""
        return tuple(f.name for f in fields(cls))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Thresholds:
        """A copy with ``overrides`` applied; ConfigError names unknown or mistyped ones."""
        if not overrides:
            return self
        types = {f.name: f.type for f in fields(self)}
        checked: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in types:
                raise ConfigError(_unknown(name))
            checked[name] = _coerce(name, value, str(types[name]))
        return replace(self, **checked)

    def to_dict(self) -> dict[str, int | float]:
        """Name -> value, for the JSON report."""
        return asdict(self)


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, Thresholds.names(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"unknown doctor threshold {name!r}.{hint} The thresholds are: "
        f"{', '.join(Thresholds.names())} (see docs/doctor.md)."
    )


def _coerce(name: str, value: Any, kind: str) -> int | float:
    """``value`` as the threshold's type (int or float), refusing booleans and negatives."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number: int | float = int(value) if kind == "int" else float(value)
        if kind == "int" and isinstance(value, float) and not value.is_integer():
            raise TypeError
    except (TypeError, ValueError):
        raise ConfigError(
            f"doctor threshold {name} must be {'an integer' if kind == 'int' else 'a number'}, "
            f"got {value!r}"
        ) from None
    if number < 0:
        raise ConfigError(f"doctor threshold {name} must be 0 or more, got {value!r}")
    return number


def parse_threshold_assignments(assignments: list[str]) -> dict[str, str]:
    """``["slow_mean_ms=50", ...]`` -> ``{"slow_mean_ms": "50"}``; ConfigError on bad syntax."""
    parsed: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        name, value = name.strip().replace("-", "_"), value.strip()
        if not sep or not name or not value:
            raise ConfigError(
                f"--threshold takes NAME=VALUE, e.g. --threshold unpartitioned_rows=1000000; "
                f"got {assignment!r}"
            )
        if name not in Thresholds.names():
            raise ConfigError(_unknown(name))
        parsed[name] = value
    return parsed
