"""The report model, its JSON document against the schema, and the text renderer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pgspatial.doctor import (
    JSON_SCHEMA,
    AppliedFix,
    CheckResult,
    DoctorReport,
    Finding,
    Thresholds,
    render_json,
    render_text,
    validate_document,
)
from pgspatial.doctor.fixes import SAFE_STATEMENT

DOCS = Path(__file__).resolve().parents[2] / "docs" / "doctor.md"


def _result(check_id: str, status: str, *findings: Finding, severity: str = "warn", **kw):
    return CheckResult(
        id=check_id,
        family=check_id.split(".", maxsplit=1)[0],
        title=f"title of {check_id}",
        severity=severity,
        why="Why it matters.",
        status=status,
        summary=kw.pop("summary", "summary"),
        findings=findings,
        **kw,
    )


def _report(*results: CheckResult) -> DoctorReport:
    return DoctorReport(
        results=results,
        database={
            "name": "gis",
            "user": "me",
            "server_version": "15.18",
            "postgis_version": "3.3.2",
        },
        thresholds=Thresholds().to_dict(),
        generated_at="2026-01-02T03:04:05+00:00",
        pgspatial_version="0.1.0",
    )


ANALYZE = Finding("t was never analyzed", fix="ANALYZE public.t;", table="public.t", safe=True)
YOUNG = Finding("idx unused", fix="DROP INDEX CONCURRENTLY public.ix;", severity="info", index="ix")
INVALID = Finding(
    "ix is INVALID",
    fix="DROP INDEX CONCURRENTLY public.ix;\nCREATE INDEX CONCURRENTLY ix ON public.t USING btree (v);",
    details={"size_bytes": 8192},
)
SAMPLE = _report(
    _result("extension.postgis", "ok", severity="error", summary="PostGIS 3.3.2"),
    _result("stats.never_analyzed", "found", ANALYZE),
    _result("index.unused_spatial", "found", YOUNG),
    _result("index.invalid", "found", INVALID, severity="error"),
    _result(
        "bloat.gist", "skipped", skip_reason="install pgstattuple: CREATE EXTENSION pgstattuple;"
    ),
    _result("column.mixed_srid", "ok", severity="error", notes=("1 table(s) not sampled",)),
)


def test_levels_worst_and_fail_on():
    assert SAMPLE.result("index.unused_spatial").level == "info", "the finding's own severity"
    assert SAMPLE.result("stats.never_analyzed").level == "warn", "the check's severity"
    assert SAMPLE.result("bloat.gist").level is None
    assert SAMPLE.worst == "error"
    assert SAMPLE.fails("warn") and SAMPLE.fails("error")
    only_info = _report(SAMPLE.result("index.unused_spatial"))
    assert only_info.worst == "info" and not only_info.fails("warn")
    assert _report().worst is None and not _report().fails("warn")
    assert [(r.id, f.fix) for r, f in SAMPLE.safe_fixes()] == [
        ("stats.never_analyzed", "ANALYZE public.t;")
    ]
    with pytest.raises(KeyError, match="no check 'nope'"):
        SAMPLE.result("nope")


def test_the_document_validates_and_counts():
    document = json.loads(render_json(SAMPLE))
    assert validate_document(document, JSON_SCHEMA) == []
    assert document["summary"] == {
        "checks": 6,
        "ok": 2,
        "found": 3,
        "skipped": 1,
        "by_level": {"info": 1, "warn": 1, "error": 1},
        "worst": "error",
    }
    finding = document["checks"][3]["findings"][0]
    assert finding == {
        "severity": "error",
        "message": "ix is INVALID",
        "table": None,
        "column": None,
        "index": None,
        "details": {"size_bytes": 8192},
        "fix": INVALID.fix,
        "safe": False,
    }
    applied = [AppliedFix("stats.never_analyzed", "ANALYZE public.t;", True, "done", 1.234)]
    with_fixes = json.loads(render_json(SAMPLE, applied=applied))
    assert validate_document(with_fixes) == []
    assert with_fixes["applied_fixes"][0]["duration_ms"] == 1.2


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: d.pop("checks"), "$: missing required property 'checks'"),
        (lambda d: d["checks"][0].update(status="failed"), "$.checks[0].status: 'failed'"),
        (lambda d: d["checks"][1]["findings"][0].update(extra=1), "unexpected property 'extra'"),
        (lambda d: d["checks"][1]["findings"][0]["details"].update(rows=[1]), "details.rows"),
        (lambda d: d["summary"].update(checks=-1), "$.summary.checks: -1 is below 0"),
        (lambda d: d["checks"][0].update(id="Not An Id"), "does not match"),
        (lambda d: d["summary"]["by_level"].update(warn=True), "is not of type integer"),
    ],
)
def test_the_validator_catches_what_breaks_the_schema(mutate, error):
    document = json.loads(render_json(SAMPLE))
    mutate(document)
    errors = validate_document(document)
    assert any(error in e for e in errors), errors


def test_the_documented_schema_is_the_code_schema():
    docs = DOCS.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- schema:start -->\n```json\n(.*?)\n```\n<!-- schema:end -->", docs, re.S
    )
    assert block is not None, "docs/doctor.md holds the schema between the schema markers"
    assert json.loads(block.group(1)) == JSON_SCHEMA


def test_text_report_has_a_table_and_every_fix():
    text = render_text(SAMPLE, fail_on="warn", width=100)
    assert "status" in text and "check" in text and "result" in text
    for result in SAMPLE.results:
        assert result.id in text
    for line in (ANALYZE.fix, *INVALID.fix.splitlines(), YOUNG.fix):
        assert line in text
    assert "skipped: install pgstattuple" in text
    assert "(safe: --apply-safe-fixes runs it)" in text
    assert "note (column.mixed_srid): 1 table(s) not sampled" in text
    assert (
        text.index("ERROR index.invalid")
        < text.index("WARN stats.never_analyzed")
        < text.index("INFO index.unused_spatial")
    ), "worst first"
    assert "6 checks: 2 ok, 3 found something (1 info, 1 warn, 1 error), 1 skipped" in text
    assert "exit 1" in text
    assert "\x1b[" not in text, "no colour codes unless asked"
    assert "\x1b[" in render_text(SAMPLE, color=True)
    assert "exit 0" in render_text(_report(SAMPLE.result("extension.postgis")), fail_on="warn")


@pytest.mark.parametrize(
    ("statement", "safe"),
    [
        ("ANALYZE public.parcels;", True),
        ("CREATE INDEX CONCURRENTLY ix_p_geom ON public.p USING gist (geom);", True),
        ("CREATE INDEX ix_p_geom ON public.p USING gist (geom);", False),
        ("DROP INDEX CONCURRENTLY public.ix;", False),
        ("VACUUM (ANALYZE) public.p;", False),
        ("ANALYZE public.p; DROP TABLE p;", False),
    ],
)
def test_only_analyze_and_concurrent_gist_builds_are_safe(statement, safe):
    assert (SAFE_STATEMENT.match(statement) is not None) is safe
