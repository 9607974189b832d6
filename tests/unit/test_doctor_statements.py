"""Which pg_stat_statements texts are spatial (errata 18), and what the linter says of them.

Texts are written as pg_stat_statements stores them: constants normalised to $1, $2, ...
Catalogs are built by hand, as the linter's own unit tests do.
"""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from pgspatial.catalog import Catalog, IndexInfo, SpatialColumnInfo, SpatialTable
from pgspatial.doctor import is_spatial_text
from pgspatial.doctor.context import MARKER, qualified, quote_ident, sql
from pgspatial.doctor.statements import geography_casts, lint_statement


@pytest.mark.parametrize(
    "query",
    [
        "SELECT first_name FROM t",  # "st_n": ILIKE '%ST_%' matches it
        "INSERT INTO statement_log (statement) VALUES ($1)",
        "SELECT * FROM t WHERE id IN (SELECT id FROM list)",
        "SELECT last_seen, cost_estimate FROM visits",
        "SELECT my_st_area(geom) FROM t",  # not a function named st_*
        "SELECT st_ FROM t",
    ],
)
def test_texts_that_merely_contain_st_are_not_spatial(query):
    assert not is_spatial_text(query)
    # LIKE's "_" is any character: ILIKE '%ST_%' is the regular expression "st." (errata 18)
    assert re.search("(?i)st.", query), "ILIKE '%ST_%' would have matched it"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM parcels WHERE ST_Intersects(geom, $1)",
        "select id from p where st_dwithin (geom, $1, $2)",
        "SELECT public.ST_Area(geom::geography) FROM p",
        "SELECT ST_3DDistance(a, b) FROM p",
        "SELECT\n  ST_AsMVT(t.*)\nFROM t",
    ],
)
def test_calls_of_st_functions_are_spatial(query):
    assert is_spatial_text(query)


def test_the_sql_uses_the_function_call_regex_not_ilike():
    workload = files("pgspatial").joinpath("sql/doctor_workload.sql").read_text(encoding="utf-8")
    statement = sql("workload", "spatial_statements", pgss="public")
    assert r"query ~* '\mst_[a-z0-9_]+\s*\('" in statement
    assert "ILIKE" not in statement.upper().replace("NEVER ILIKE", "")
    assert "never ILIKE '%ST_%'" in workload
    assert statement.startswith(MARKER)


def _column(name="geom", kind="geometry", srid=4326) -> SpatialColumnInfo:
    return SpatialColumnInfo(
        name=name, kind=kind, geometry_type="POINT", srid=srid, dimension=2, nullable=False
    )


def _index(name: str, expression: str | None = None) -> IndexInfo:
    return IndexInfo(
        name=name,
        method="gist",
        columns=() if expression else ("geom",),
        expressions=(expression,) if expression else (),
        predicate=None,
        is_valid=True,
        is_unique=False,
        is_primary=False,
        size_bytes=8192,
        definition=f"CREATE INDEX {name} ON public.places USING gist ({expression or 'geom'})",
    )


def _catalog(*indexes: IndexInfo, srid: int = 4326) -> Catalog:
    table = SpatialTable(
        schema="public",
        name="places",
        kind="table",
        columns=(_column(srid=srid),),
        attributes=(),
        primary_key=("id",),
        indexes=(_index("ix_places_geom"), *indexes),
        constraints=(),
        estimated_rows=100_000,
        size_bytes=10_000_000,
        readable=True,
        is_partition=False,
    )
    return Catalog(tables=(table,), postgis_version="3.3.2")


DWITHIN_CAST = (
    "SELECT id FROM places WHERE ST_DWithin(geom::geography, "
    "ST_SetSRID(ST_MakePoint($1, $2), $3)::geography, $4)"
)


def test_a_geography_cast_without_an_index_is_found():
    casts = list(geography_casts(DWITHIN_CAST, _catalog()))
    assert [(c.table.name, c.column.name, c.has_typmod) for c in casts] == [
        ("places", "geom", False)
    ]


def test_geoalchemy2_casts_with_a_type_modifier_are_flagged_as_such():
    query = (
        "SELECT id FROM places AS p WHERE ST_DWithin(CAST(p.geom AS geography(GEOMETRY,4326)), "
        "CAST($1 AS geography(GEOMETRY,4326)), $2)"
    )
    (cast,) = geography_casts(query, _catalog())
    assert cast.has_typmod


def test_a_matching_index_or_a_prefilter_needs_nothing():
    indexed = _catalog(_index("ix_places_geom_geography", "(geom)::geography"))
    assert list(geography_casts(DWITHIN_CAST, indexed)) == []
    prefiltered = (
        "SELECT id FROM places WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, $5) AND "
        "ST_DWithin(((geom)::geography), ((ST_GeomFromEWKT($6))::geography), $7, $8)"
    )
    assert list(geography_casts(prefiltered, _catalog())) == []
    assert lint_statement(prefiltered, _catalog()) == [], "pgspatial.within_distance's SQL"


def test_lint_findings_on_normalised_texts():
    codes = {f.code for f in lint_statement(
        "SELECT id FROM places WHERE ST_Distance(geom, $1) < $2", _catalog()
    )}  # fmt: skip
    assert codes == {"ST_DISTANCE_IN_WHERE"}
    mercator = lint_statement(
        "SELECT id FROM places WHERE ST_DWithin(geom, ST_Transform($1, $2), $3)",
        _catalog(srid=3857),
    )
    assert {f.code for f in mercator} == {"METRES_ON_3857"}
    assert lint_statement("SELECT ST_Area(geom FROM places", _catalog()) == [], "parse errors"
    assert lint_statement("SELECT 'a:b', geom::geography FROM places", _catalog()) == []


def test_identifiers_are_quoted_only_when_needed():
    assert quote_ident("parcels") == "parcels"
    assert quote_ident("Parcels") == '"Parcels"'
    assert quote_ident("user") == '"user"'
    assert quote_ident('we"ird') == '"we""ird"'
    assert qualified("public", "My Table") == 'public."My Table"'
