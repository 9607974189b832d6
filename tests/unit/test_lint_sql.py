"""The linter's input: compiling statements for analysis, parsing, parse errors, findings."""

from __future__ import annotations

import pytest
from pglast import parse_sql
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.types import NullType

from pgspatial.geometry import parse_geometry
from pgspatial.plans import RULES, Finding, lint, literal_text
from pgspatial.plans.sqltext import analyse, sql_text, statement_kind
from pgspatial.sampledata.models import Parcel


def test_parse_errors_are_one_finding_not_an_exception():
    findings = lint("SELEC id FROM parcels")
    assert len(findings) == 1
    finding = findings[0]
    assert finding.code == "PARSE_ERROR"
    assert finding.severity == "error"
    assert "SELEC" in finding.message
    assert finding.location == 0
    assert "SELEC id" in finding.snippet


def test_a_parse_error_at_the_end_points_at_the_end():
    (finding,) = lint("SELECT id FROM parcels WHERE")
    assert finding.code == "PARSE_ERROR"
    assert finding.location == len("SELECT id FROM parcels WHERE")


def test_every_rule_code_is_documented():
    assert set(RULES) == {
        "ST_DISTANCE_IN_WHERE",
        "FUNCTION_ON_INDEXED_COLUMN",
        "KNN_NON_CONSTANT",
        "KNN_PLANAR_DEGREES",
        "MIXED_LITERAL_SRIDS",
        "METRES_ON_3857",
        "PARSE_ERROR",
    }


def test_finding_prints_and_serialises():
    finding = Finding("KNN_NON_CONSTANT", "warning", "do this", "a <-> b", location=7)
    assert str(finding) == "WARNING KNN_NON_CONSTANT (at 7): do this\n    a <-> b"
    assert finding.to_dict() == {
        "code": "KNN_NON_CONSTANT",
        "severity": "warning",
        "message": "do this",
        "snippet": "a <-> b",
        "location": 7,
    }


def test_values_are_inlined_and_geometries_become_ewkt():
    point = parse_geometry("POINT(-73.98 40.75)", srid=4326)
    sql = sql_text(select(Parcel.id).order_by(Parcel.geom.op("<->")(point)).limit(5))
    assert "ST_GeomFromEWKT('SRID=4326;POINT (-73.98 40.75)')" in sql
    assert "LIMIT 5" in sql
    parse_sql(sql)  # valid PostgreSQL


def test_a_value_without_a_literal_form_becomes_a_placeholder():
    stmt = select(Parcel.id).where(
        func.ST_DWithin(Parcel.geom, bindparam("pt", object(), type_=NullType()), 0.5)
    )
    sql = sql_text(stmt)
    assert "ST_DWithin(parcels.geom, $1, 0.5)" in sql
    unrenderable = [object(), object()]
    sql = sql_text(select(Parcel.id).where(bindparam("x", type_=NullType()).in_(unrenderable)))
    assert "IN ($" in sql
    parse_sql(sql)


def test_text_parameters_without_values_are_placeholders():
    sql = sql_text(text("SELECT id FROM parcels WHERE id = :id AND geom && :box"))
    assert sql == "SELECT id FROM parcels WHERE id = $1 AND geom && $2"


def test_percent_signs_are_not_doubled():
    assert sql_text(text("SELECT 'a%' LIKE 'a%%'")) == "SELECT 'a%' LIKE 'a%%'"


def test_literal_text_keeps_colons_literal():
    statement = literal_text("""SELECT '{"a":1}'::jsonb, x:y FROM t WHERE a = :b""")
    assert sql_text(statement) == """SELECT '{"a":1}'::jsonb, x:y FROM t WHERE a = :b"""


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "read"),
        ("VALUES (1), (2)", "read"),
        ("SELECT * FROM t FOR UPDATE", "write"),
        ("SELECT * INTO t2 FROM t", "write"),
        ("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", "write"),
        ("INSERT INTO t VALUES (1)", "write"),
        ("UPDATE t SET a = 1", "write"),
        ("DELETE FROM t", "write"),
        ("CREATE TABLE t2 AS SELECT 1", "write"),
        ("CREATE TABLE t2 (a int)", "unexplainable"),
        ("SET enable_seqscan = off", "unexplainable"),
    ],
)
def test_statement_kinds(sql, kind):
    (raw,) = analyse(sql).statements
    assert statement_kind(raw.stmt) == kind


def test_findings_are_in_source_order_and_not_repeated():
    sql = (
        "SELECT ST_Area(ST_Transform(geom, 3857)) FROM parcels WHERE "
        "ST_Distance(geom, ST_MakePoint(1, 2)) < 5 AND ST_Distance(geom, ST_MakePoint(1, 2)) < 5"
    )
    findings = lint(sql)
    assert [f.code for f in findings] == [
        "METRES_ON_3857",
        "ST_DISTANCE_IN_WHERE",
        "ST_DISTANCE_IN_WHERE",
    ]
    locations = [f.location or 0 for f in findings]
    assert locations == sorted(locations)
    assert len(set(locations)) == 3


def test_several_statements_are_all_checked():
    sql = (
        "SELECT 1 FROM parcels WHERE ST_Distance(geom, ST_MakePoint(1, 2)) < 5; "
        "UPDATE parcels SET a = 1 WHERE ST_Distance(geom, ST_MakePoint(1, 2)) < 5"
    )
    assert [f.code for f in lint(sql)] == ["ST_DISTANCE_IN_WHERE", "ST_DISTANCE_IN_WHERE"]


def test_a_clean_statement_has_no_findings():
    stmt = select(Parcel.id).where(Parcel.geom.op("&&")(func.ST_MakeEnvelope(0, 0, 1, 1, 4326)))
    assert lint(stmt) == []
