"""Lint rules about the GiST index, without a database: every rule, every exception branch.

Statements are built the way pgspatial and GeoAlchemy2 build them (``geography_of``,
``cast(col, Geography(srid=4326))``, comparator methods); catalogs are built by hand.
"""

from __future__ import annotations

import pytest
from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import aliased

from pgspatial.catalog import Catalog, IndexInfo, SpatialColumnInfo, SpatialTable
from pgspatial.columns import geography_of
from pgspatial.geometry import parse_geometry
from pgspatial.plans import lint
from pgspatial.sampledata.models import Parcel

POINT = func.ST_SetSRID(func.ST_MakePoint(-73.98, 40.75), 4326)
PARSED_POINT = parse_geometry("POINT(-73.98 40.75)", srid=4326)
ENVELOPE = func.ST_MakeEnvelope(-74.0, 40.7, -73.9, 40.8, 4326)


def index(name: str, *, expression: str | None = None, valid: bool = True) -> IndexInfo:
    """A GiST index on ``geom`` (or on ``expression``), as the catalog would list it."""
    return IndexInfo(
        name=name,
        method="gist",
        columns=() if expression else ("geom",),
        expressions=(expression,) if expression else (),
        predicate=None,
        is_valid=valid,
        is_unique=False,
        is_primary=False,
        size_bytes=8192,
        definition=f"CREATE INDEX {name} ON public.parcels USING gist ({expression or 'geom'})",
    )


def catalog(
    *extra: IndexInfo, kind: str = "geometry", srid: int = 4326, table: str = "parcels"
) -> Catalog:
    """One table with a spatial column ``geom``, its GiST index and ``extra`` indexes."""
    column = SpatialColumnInfo(
        name="geom", kind=kind, geometry_type="POLYGON", srid=srid, dimension=2, nullable=False
    )
    spatial = SpatialTable(
        schema="public",
        name=table,
        kind="table",
        columns=(column,),
        attributes=(),
        primary_key=("id",),
        indexes=(index(f"ix_{table}_geom"), *extra),
        constraints=(),
        estimated_rows=200_000,
        size_bytes=50_000_000,
        readable=True,
        is_partition=False,
    )
    return Catalog(tables=(spatial,), postgis_version="3.3.2")


GEOGRAPHY_INDEX = index("ix_parcels_geom_geography", expression="(geom)::geography")


def codes(statement: object, **kw: object) -> list[str]:
    return [f.code for f in lint(statement, **kw)]


def only(statement: object, code: str, **kw: object) -> str:
    """The message of the single finding, which must have ``code``."""
    findings = lint(statement, **kw)
    assert [f.code for f in findings] == [code], findings
    return findings[0].message


# --- ST_DISTANCE_IN_WHERE ------------------------------------------------------------------


def test_distance_compared_in_where_is_flagged_with_st_dwithin_as_the_fix():
    stmt = select(Parcel.id).where(func.ST_Distance(Parcel.geom, PARSED_POINT) < 500)
    findings = lint(stmt)
    assert [f.code for f in findings] == ["ST_DISTANCE_IN_WHERE"]
    assert "ST_DWithin" in findings[0].message
    assert "within_distance" in findings[0].message
    assert findings[0].severity == "warning"
    assert findings[0].snippet.startswith("st_distance(parcels.geom")
    assert findings[0].location is not None


@pytest.mark.parametrize(
    "condition",
    [
        "ST_Distance(geom, ST_MakePoint(1, 2)) <= 500",
        "500 > ST_Distance(geom, ST_MakePoint(1, 2))",
        "ST_Distance(geom::geography, ST_MakePoint(1, 2)::geography)::numeric < 500",
        "ST_DistanceSphere(geom, ST_MakePoint(1, 2)) < 500",
    ],
)
def test_every_closer_than_spelling_is_flagged(condition):
    message = only(f"SELECT id FROM parcels WHERE {condition}", "ST_DISTANCE_IN_WHERE")
    assert "write ST_DWithin(a, b, <limit>)" in message


def test_farther_than_suggests_not_st_dwithin_plus_an_index_condition():
    message = only(
        "SELECT id FROM parcels WHERE ST_Distance(geom, ST_MakePoint(1, 2)) > 500",
        "ST_DISTANCE_IN_WHERE",
    )
    assert "NOT ST_DWithin" in message


def test_between_is_flagged():
    message = only(
        "SELECT id FROM parcels WHERE ST_Distance(geom, ST_MakePoint(1, 2)) BETWEEN 10 AND 20",
        "ST_DISTANCE_IN_WHERE",
    )
    assert "AND NOT ST_DWithin" in message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a.id FROM parcels a JOIN parcels b ON ST_Distance(a.geom, b.geom) < 5",
        "SELECT geom FROM parcels GROUP BY geom HAVING ST_Distance(geom, ST_MakePoint(1, 2)) < 5",
        "SELECT id FROM parcels WHERE id IN (SELECT id FROM parcels WHERE "
        "ST_Distance(geom, ST_MakePoint(1, 2)) < 5)",
        "WITH near AS (SELECT id FROM parcels WHERE ST_Distance(geom, ST_MakePoint(1, 2)) < 5) "
        "SELECT * FROM near",
        "SELECT 1 UNION ALL SELECT id FROM parcels WHERE ST_Distance(geom, ST_MakePoint(1, 2)) < 5",
    ],
)
def test_join_conditions_having_and_nested_queries_are_checked(sql):
    assert codes(sql) == ["ST_DISTANCE_IN_WHERE"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ST_Distance(geom, ST_MakePoint(1, 2)) < 500 AS near FROM parcels",
        "SELECT id FROM parcels ORDER BY ST_Distance(geom, ST_MakePoint(1, 2)) LIMIT 5",
        "SELECT id FROM parcels WHERE ST_DWithin(geom, ST_MakePoint(1, 2), 500)",
        "SELECT id FROM parcels WHERE ST_Area(geom) < 500",
    ],
)
def test_distance_outside_a_condition_or_st_dwithin_is_fine(sql):
    assert codes(sql) == []


# --- FUNCTION_ON_INDEXED_COLUMN ------------------------------------------------------------


def test_pgspatial_two_step_pattern_passes():
    stmt = select(Parcel.id).where(
        Parcel.geom.op("&&")(func.ST_Expand(POINT, 0.01, 0.02)),
        func.ST_DWithin(geography_of(Parcel.geom), geography_of(POINT), 500, True),
    )
    assert lint(stmt) == []


def test_prefilter_in_function_form_also_passes():
    stmt = select(Parcel.id).where(
        func.ST_Intersects(Parcel.geom, ENVELOPE),
        func.ST_Intersects(func.ST_Transform(Parcel.geom, 2263), func.ST_Transform(ENVELOPE, 2263)),
    )
    assert lint(stmt) == []


def test_geography_of_alone_is_flagged_without_a_catalog():
    stmt = select(Parcel.id).where(
        func.ST_DWithin(geography_of(Parcel.geom), geography_of(POINT), 500, True)
    )
    message = only(stmt, "FUNCTION_ON_INDEXED_COLUMN")
    assert "parcels.geom::geography" in message
    assert "parcels.geom && ST_Expand" in message
    assert "geodesic_index=True" in message


def test_geography_of_alone_passes_when_the_catalog_has_the_geography_index():
    stmt = select(Parcel.id).where(
        func.ST_DWithin(geography_of(Parcel.geom), geography_of(POINT), 500, True)
    )
    assert lint(stmt, catalog=catalog(GEOGRAPHY_INDEX)) == []


def test_geography_of_alone_is_flagged_when_the_catalog_lacks_that_index():
    stmt = select(Parcel.id).where(
        func.ST_DWithin(geography_of(Parcel.geom), geography_of(POINT), 500, True)
    )
    message = only(stmt, "FUNCTION_ON_INDEXED_COLUMN", catalog=catalog())
    assert "The catalog has no index on that expression" in message


@pytest.mark.parametrize("spelling", ["geom::geography", "(geom)::geography", "p.geom::geography"])
def test_every_plain_geography_cast_matches_the_expression_index(spelling):
    sql = (
        f"SELECT id FROM parcels p WHERE ST_DWithin({spelling}, "
        "ST_MakePoint(-73.98, 40.75)::geography, 500)"
    )
    assert codes(sql, catalog=catalog(GEOGRAPHY_INDEX)) == []
    assert codes(sql) == ["FUNCTION_ON_INDEXED_COLUMN"]


def test_geoalchemy_typmod_cast_is_flagged_even_without_a_catalog():
    stmt = select(Parcel.id).where(
        func.ST_DWithin(
            cast(Parcel.geom, Geography(srid=4326)), cast(PARSED_POINT, Geography(srid=4326)), 500
        )
    )
    message = only(stmt, "FUNCTION_ON_INDEXED_COLUMN")
    assert "CAST(parcels.geom AS geography(geometry,4326))" in message
    assert "errata 16" in message
    assert "geography_of" in message


def test_typmod_cast_names_the_index_it_fails_to_match():
    stmt = select(Parcel.id).where(
        func.ST_DWithin(cast(Parcel.geom, Geography(srid=4326)), geography_of(POINT), 500)
    )
    message = only(stmt, "FUNCTION_ON_INDEXED_COLUMN", catalog=catalog(GEOGRAPHY_INDEX))
    assert "does not match the expression index ix_parcels_geom_geography" in message
    assert "parcels.geom::geography" in message


def test_an_invalid_matching_index_is_reported_with_the_rebuild_command():
    broken = index("ix_parcels_geom_geography", expression="(geom)::geography", valid=False)
    sql = "SELECT id FROM parcels WHERE ST_DWithin(geom::geography, 'POINT(1 2)'::geography, 5)"
    message = only(sql, "FUNCTION_ON_INDEXED_COLUMN", catalog=catalog(broken))
    assert "INVALID" in message
    assert "REINDEX INDEX CONCURRENTLY ix_parcels_geom_geography" in message


def test_a_function_expression_index_matches_too():
    transformed = index("ix_parcels_geom_2263", expression="st_transform(geom, 2263)")
    stmt = select(Parcel.id).where(
        func.ST_Intersects(func.ST_Transform(Parcel.geom, 2263), func.ST_Transform(ENVELOPE, 2263))
    )
    assert lint(stmt, catalog=catalog(transformed)) == []
    message = only(stmt, "FUNCTION_ON_INDEXED_COLUMN", catalog=catalog())
    assert "Move the function to the other operand" in message


@pytest.mark.parametrize(
    "condition",
    [
        "ST_Intersects(ST_Transform(geom, 3857), ST_MakeEnvelope(0, 0, 1, 1, 3857))",
        "ST_Intersects(ST_Buffer(geom, 10), ST_MakePoint(1, 2))",
        "ST_Transform(geom, 3857) && ST_MakeEnvelope(0, 0, 1, 1, 3857)",
        "ST_Contains(ST_MakeEnvelope(0, 0, 1, 1, 4326), ST_Centroid(geom))",
    ],
)
def test_functions_around_the_column_are_flagged(condition):
    assert codes(f"SELECT id FROM parcels WHERE {condition}") == ["FUNCTION_ON_INDEXED_COLUMN"]


def test_a_prefilter_in_another_or_arm_does_not_count():
    stmt = select(Parcel.id).where(
        or_(
            Parcel.geom.op("&&")(ENVELOPE),
            func.ST_DWithin(geography_of(Parcel.geom), geography_of(POINT), 500),
        )
    )
    assert codes(stmt) == ["FUNCTION_ON_INDEXED_COLUMN"]


def test_a_prefilter_shared_by_an_or_arm_counts():
    sql = (
        "SELECT id FROM parcels WHERE geom && ST_MakeEnvelope(0, 0, 1, 1, 4326) AND "
        "(status = 'a' OR ST_DWithin(geom::geography, 'POINT(1 2)'::geography, 5))"
    )
    assert codes(sql) == []


def test_an_or_of_boxes_on_the_bare_column_is_a_prefilter():
    boxes = "(geom && ST_MakeEnvelope(179, 0, 180, 1, 4326) OR geom && ST_MakeEnvelope(-180, 0, -179, 1, 4326))"
    near = "ST_DWithin(geom::geography, 'POINT(180 0.5)'::geography, 5)"
    assert codes(f"SELECT id FROM parcels WHERE {boxes} AND {near}") == []
    half = "(geom && ST_MakeEnvelope(179, 0, 180, 1, 4326) OR status = 'a')"
    assert codes(f"SELECT id FROM parcels WHERE {half} AND {near}") == [
        "FUNCTION_ON_INDEXED_COLUMN"
    ]


def test_a_prefilter_on_another_column_does_not_count():
    sql = (
        "SELECT id FROM parcels WHERE footprint && ST_MakeEnvelope(0, 0, 1, 1, 4326) AND "
        "ST_DWithin(geom::geography, 'POINT(1 2)'::geography, 5)"
    )
    assert codes(sql) == ["FUNCTION_ON_INDEXED_COLUMN"]


def test_a_bare_column_on_either_side_lets_the_index_serve_the_join():
    other = aliased(Parcel)
    stmt = select(Parcel.id).join(
        other, func.ST_Intersects(Parcel.geom, func.ST_Buffer(other.geom, 10))
    )
    assert lint(stmt) == []


def test_constants_on_both_sides_are_not_flagged():
    test = "ST_Intersects(ST_MakePoint(1, 2), ST_MakeEnvelope(0, 0, 3, 3))"
    assert codes(f"SELECT {test} FROM parcels") == []
    assert codes(f"SELECT id FROM parcels WHERE {test}") == []


def test_outer_columns_in_a_lateral_subquery_are_constants():
    sql = (
        "SELECT s.id, n.id FROM sites s CROSS JOIN LATERAL (SELECT p.id FROM parcels p "
        "WHERE ST_DWithin(p.geom, ST_Transform(s.geom, 4326), 0.01) ORDER BY p.geom <-> "
        "ST_Transform(s.geom, 4326) LIMIT 3) n"
    )
    assert codes(sql) == []


@pytest.mark.parametrize("srid", [4326, 2263])
def test_the_statements_pgspatial_builds_pass(srid):
    """A contract with pgspatial.predicates: its own shapes never trip the linter."""
    from pgspatial import predicates

    site = Table(
        "sites",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("geom", Geometry("POINT", srid=srid, spatial_index=False)),
    )
    point = {"type": "Point", "coordinates": [-73.98, 40.75]}
    statements = [
        select(site.c.id).where(predicates.within_distance(site.c.geom, point, 500)),
        predicates.nearest(select(site.c.id), site.c.geom, point, k=5),
        select(site.c.id).where(predicates.in_bbox(site.c.geom, (-74.0, 40.7, -73.9, 40.8))),
        select(site.c.id).where(predicates.intersects(site.c.geom, point, transform=True)),
        select(site.c.id).where(predicates.in_tile(site.c.geom, 12, 1205, 1539)),
        predicates.nearest(
            select(site.c.id).where(predicates.in_bbox(site.c.geom, (-74.0, 40.7, -73.9, 40.8))),
            site.c.geom,
            point,
            k=3,
        ),
    ]
    # The statements the serializers run (GeoJSON/CSV features, vector tiles) too.
    from pgspatial.serialize import feature_spec, tile_select

    windowed = select(site).where(predicates.in_bbox(site.c.geom, (-74.0, 40.7, -73.9, 40.8)))
    spec = feature_spec(windowed, id_column="id")
    statements += [
        spec.features_select(),
        spec.csv_select(),
        tile_select(site, 14, 4823, 6160, id_column="id"),
    ]
    for statement in statements:
        assert lint(statement, catalog=catalog(table="sites", srid=srid)) == [], statement


# --- KNN_NON_CONSTANT and KNN_PLANAR_DEGREES ---------------------------------------------------


def test_knn_with_a_constant_point_passes():
    stmt = select(Parcel.id).order_by(Parcel.geom.op("<->")(PARSED_POINT)).limit(5)
    assert lint(stmt) == []
    stmt = select(Parcel.id).order_by(Parcel.geom.distance_centroid(POINT)).limit(5)
    assert lint(stmt) == []


def test_knn_with_columns_on_both_sides_is_flagged():
    other = aliased(Parcel)
    stmt = (
        select(Parcel.id, other.id)
        .join(other, Parcel.id != other.id)
        .order_by(Parcel.geom.op("<->")(other.geom))
        .limit(5)
    )
    findings = lint(stmt)
    assert [f.code for f in findings] == ["KNN_NON_CONSTANT"]
    assert "LATERAL" in findings[0].message


def test_knn_through_an_output_column_name_is_resolved():
    sql = "SELECT a.id, a.geom <-> b.geom AS d FROM parcels a, parcels b ORDER BY d LIMIT 5"
    assert codes(sql) == ["KNN_NON_CONSTANT"]


def test_planar_degrees_are_flagged_only_when_the_catalog_says_geometry_4326():
    stmt = select(Parcel.id).order_by(Parcel.geom.op("<->")(PARSED_POINT)).limit(10)
    findings = lint(stmt, catalog=catalog())
    assert [f.code for f in findings] == ["KNN_PLANAR_DEGREES"]
    assert "pgspatial.nearest" in findings[0].message
    assert "errata 2" in findings[0].message
    assert lint(stmt, catalog=catalog(kind="geography")) == []
    assert "KNN_PLANAR_DEGREES" not in codes(stmt, catalog=catalog(srid=2263))
    assert lint(stmt, catalog=catalog(table="other_table")) == []


def test_planar_degrees_are_fine_when_an_outer_query_reranks_by_true_distance():
    sql = (
        "SELECT id FROM (SELECT id, geom FROM parcels ORDER BY geom <-> "
        "'SRID=4326;POINT(-73.98 40.75)'::geometry LIMIT 50) AS candidates ORDER BY "
        "ST_Distance(geom::geography, 'SRID=4326;POINT(-73.98 40.75)'::geography, true) LIMIT 10"
    )
    assert codes(sql, catalog=catalog()) == []


def test_sql_text_parameters_count_as_constants():
    sql = text("SELECT id FROM parcels ORDER BY geom <-> :point LIMIT :k")
    assert codes(sql) == []
    assert codes(select(literal_column("1")).order_by(text("1"))) == []
