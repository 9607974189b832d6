"""The check registry, check selection, thresholds and the command line's usage errors."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from pgspatial.cli import main
from pgspatial.doctor import Thresholds, registry, select_checks
from pgspatial.doctor.checks import all_checks
from pgspatial.doctor.thresholds import parse_threshold_assignments
from pgspatial.errors import ConfigError

FAMILY_MODULES = {
    "extension": "extension",
    "column": "columns",
    "index": "indexes",
    "stats": "statistics",
    "vacuum": "statistics",
    "bloat": "bloat",
    "workload": "workload",
    "settings": "settings",
    "scale": "scale",
}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "doctor.md"


def test_ids_are_stable_unique_and_one_module_per_family():
    checks = registry()
    ids = [check.id for check in checks]
    assert len(ids) == len(set(ids)) == 31
    for check in checks:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", check.id)
        assert check.severity in {"info", "warn", "error"}
        assert check.title and check.why.endswith(".")
        module = importlib.import_module(f"pgspatial.doctor.checks.{FAMILY_MODULES[check.family]}")
        assert check in module.CHECKS, f"{check.id} lives in its family's module"
    assert all_checks() == checks


def test_the_issue_checklist_is_covered():
    ids = {check.id for check in registry()}
    assert {
        "extension.postgis", "extension.postgis_upgrade", "extension.pg_stat_statements",
        "extension.pgstattuple", "column.srid_unknown", "column.generic_type",
        "column.mixed_srid", "column.invalid_geometry", "column.validity_check_missing",
        "column.constraint_not_valid", "index.missing_spatial", "index.duplicate",
        "index.invalid", "index.unused_spatial", "index.geography_unindexed",
        "stats.never_analyzed", "stats.stale", "vacuum.autovacuum_disabled",
        "vacuum.default_scale_factors", "vacuum.dead_tuples", "bloat.gist", "bloat.btree",
        "workload.slow_spatial", "workload.non_sargable", "workload.seq_scan_heavy",
        "settings.timeouts", "settings.random_page_cost", "settings.jit", "settings.work_mem",
        "scale.unpartitioned_large", "scale.replica_lag",
    } == ids  # fmt: skip


def test_only_index_and_statistics_checks_have_safe_fixes():
    assert {c.id for c in registry() if c.safe_fix} == {
        "index.missing_spatial",
        "stats.never_analyzed",
        "stats.stale",
    }


def test_the_docs_list_every_check_with_its_severity():
    docs = DOCS.read_text(encoding="utf-8")
    for check in registry():
        assert re.search(rf"\| `{re.escape(check.id)}` \| {check.severity}[ ,|]", docs), check.id


def test_select_by_id_and_by_family():
    assert [c.id for c in select_checks(["settings.jit"])] == ["settings.jit"]
    assert {c.id for c in select_checks(["bloat"])} == {"bloat.gist", "bloat.btree"}
    assert {c.id for c in select_checks(["scale.*", "stats.stale"])} == {
        "scale.unpartitioned_large",
        "scale.replica_lag",
        "stats.stale",
    }
    assert select_checks(None) == registry() == select_checks([])


def test_an_unknown_check_names_close_ones():
    with pytest.raises(
        ConfigError, match=r"unknown doctor check 'index\.duplicates'.*index\.duplicate"
    ):
        select_checks(["index.duplicates"])


def test_thresholds_override_by_name_with_types_checked():
    limits = Thresholds().with_overrides({"unpartitioned_rows": "1000", "slow_mean_ms": 2.5})
    assert limits.unpartitioned_rows == 1000 and isinstance(limits.unpartitioned_rows, int)
    assert limits.slow_mean_ms == 2.5
    assert Thresholds().unpartitioned_rows == 50_000_000, "the brief's 50M by default"
    with pytest.raises(ConfigError, match="unknown doctor threshold 'unpartitioned'"):
        Thresholds().with_overrides({"unpartitioned": 1})
    with pytest.raises(ConfigError, match="must be an integer"):
        Thresholds().with_overrides({"unpartitioned_rows": 1.5})
    with pytest.raises(ConfigError, match="must be 0 or more"):
        Thresholds().with_overrides({"slow_mean_ms": -1})
    with pytest.raises(ConfigError, match="must be a number"):
        Thresholds().with_overrides({"slow_mean_ms": True})


def test_threshold_assignments_from_the_command_line():
    assert parse_threshold_assignments(["slow-mean-ms=5", " seq_scan_ratio = 0.9"]) == {
        "slow_mean_ms": "5",
        "seq_scan_ratio": "0.9",
    }
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_threshold_assignments(["slow_mean_ms"])
    with pytest.raises(ConfigError, match="Did you mean slow_mean_ms"):
        parse_threshold_assignments(["slow_mean=5"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--check", "nope"], "unknown doctor check 'nope'"),
        (["--threshold", "bogus=1"], "unknown doctor threshold 'bogus'"),
        (["--threshold", "slow_mean_ms=fast"], "must be a number"),
        (["--fail-on", "info"], "Invalid value for '--fail-on'"),
    ],
)
def test_usage_errors_exit_2_before_connecting(args, message, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/never")
    with pytest.raises(SystemExit) as done:
        main(["doctor", *args])
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_list_prints_every_id(capsys):
    with pytest.raises(SystemExit) as done:
        main(["doctor", "--list"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(check.id in out for check in registry())
