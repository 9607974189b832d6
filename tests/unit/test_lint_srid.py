"""Lint rules about coordinate systems, without a database: mixed SRIDs and Mercator "metres"."""

from __future__ import annotations

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import Column, Integer, MetaData, Table, func, select

from pgspatial.catalog import Catalog, SpatialColumnInfo, SpatialTable
from pgspatial.geometry import parse_geometry
from pgspatial.plans import lint
from pgspatial.sampledata.models import Parcel

SITES = Table(
    "sites",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("geom", Geometry("POINT", srid=3857, spatial_index=False)),
)


def catalog(**srids: int) -> Catalog:
    """Tables with one geometry column ``geom`` each, in the given SRIDs (no indexes)."""
    tables = tuple(
        SpatialTable(
            schema="public",
            name=name,
            kind="table",
            columns=(
                SpatialColumnInfo(
                    name="geom",
                    kind="geometry",
                    geometry_type="GEOMETRY",
                    srid=srid,
                    dimension=2,
                    nullable=False,
                ),
            ),
            attributes=(),
            primary_key=("id",),
            indexes=(),
            constraints=(),
            estimated_rows=1_000,
            size_bytes=0,
            readable=True,
            is_partition=False,
        )
        for name, srid in srids.items()
    )
    return Catalog(tables=tables, postgis_version="3.3.2")


def codes(statement: object, **kw: object) -> list[str]:
    return [f.code for f in lint(statement, **kw)]


# --- MIXED_LITERAL_SRIDS ----------------------------------------------------------------------


def test_literal_srids_that_differ_are_an_error():
    sql = (
        "SELECT id FROM parcels WHERE ST_Intersects(ST_SetSRID(ST_MakePoint(1, 2), 3857), "
        "ST_MakeEnvelope(0, 0, 3, 3, 4326))"
    )
    findings = lint(sql)
    assert [f.code for f in findings] == ["MIXED_LITERAL_SRIDS"]
    assert findings[0].severity == "error"
    assert "SRID 3857" in findings[0].message
    assert "SRID 4326" in findings[0].message
    assert "errata 5" in findings[0].message
    assert "ST_Transform(" in findings[0].message


def test_the_bounding_box_operator_is_checked_too():
    sql = "SELECT 1 WHERE ST_SetSRID(ST_MakePoint(1, 2), 3857) && ST_MakeEnvelope(0, 0, 3, 3, 4326)"
    assert codes(sql) == ["MIXED_LITERAL_SRIDS"]


def test_a_column_srid_comes_from_the_catalog():
    stmt = select(Parcel.id).where(
        Parcel.geom.op("&&")(func.ST_MakeEnvelope(-8240000, 4970000, -8230000, 4980000, 3857))
    )
    assert codes(stmt) == []
    assert codes(stmt, catalog=catalog(parcels=4326)) == ["MIXED_LITERAL_SRIDS"]
    assert codes(stmt, catalog=catalog(parcels=3857)) == []


@pytest.mark.parametrize(
    "other",
    [
        "'SRID=3857;POINT(1 2)'::geometry",
        "ST_GeomFromEWKT('SRID=3857;POINT(1 2)')",
        "ST_GeomFromText('POINT(1 2)', 3857)",
        "ST_Transform(ST_MakePoint(1, 2), 3857)",
        "ST_Buffer(ST_SetSRID(ST_MakePoint(1, 2), 3857), 10)",
        "CAST(ST_MakePoint(1, 2) AS geometry(Point, 3857))",
        "ST_TileEnvelope(12, 1205, 1539)",
    ],
)
def test_srids_are_read_from_every_common_constructor(other):
    sql = f"SELECT id FROM parcels WHERE ST_Intersects(geom, {other})"
    assert "MIXED_LITERAL_SRIDS" in codes(sql, catalog=catalog(parcels=4326))
    assert "MIXED_LITERAL_SRIDS" not in codes(sql, catalog=catalog(parcels=3857))


def test_a_bound_geometry_keeps_its_srid_through_compilation():
    point_3857 = parse_geometry("POINT(-8235000 4975000)", srid=3857)
    stmt = select(Parcel.id).where(func.ST_Intersects(Parcel.geom, point_3857))
    assert codes(stmt, catalog=catalog(parcels=4326)) == ["MIXED_LITERAL_SRIDS"]
    envelope = func.ST_MakeEnvelope(0, 0, 1, 1, 4326)
    assert codes(select(SITES.c.id).where(func.ST_Intersects(envelope, point_3857))) == [
        "MIXED_LITERAL_SRIDS"
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM parcels WHERE ST_Intersects(geom, ST_Transform("
        "ST_MakeEnvelope(0, 0, 1, 1, 3857), 4326))",
        "SELECT id FROM parcels WHERE ST_Intersects(geom, ST_MakePoint(1, 2))",
        "SELECT id FROM parcels WHERE ST_Intersects(geom, $1)",
        "SELECT id FROM parcels WHERE ST_Intersects(geom, ST_MakeEnvelope(0, 0, 1, 1, 4326))",
    ],
)
def test_matching_or_unknown_srids_are_fine(sql):
    assert codes(sql, catalog=catalog(parcels=4326)) == []


def test_srids_of_two_tables_in_a_join():
    sql = "SELECT p.id FROM parcels p JOIN sites s ON ST_Intersects(p.geom, s.geom)"
    assert codes(sql, catalog=catalog(parcels=4326, sites=3857)) == ["MIXED_LITERAL_SRIDS"]
    sql = "SELECT p.id FROM parcels p JOIN sites s ON ST_Intersects(p.geom, ST_Transform(s.geom, 4326))"
    assert "MIXED_LITERAL_SRIDS" not in codes(sql, catalog=catalog(parcels=4326, sites=3857))


# --- METRES_ON_3857 --------------------------------------------------------------------------------


def test_area_of_a_web_mercator_transform_is_flagged_in_a_predicate():
    stmt = select(Parcel.id).where(func.ST_Area(func.ST_Transform(Parcel.geom, 3857)) > 1_000)
    findings = lint(stmt)
    assert [f.code for f in findings] == ["METRES_ON_3857"]
    assert "1.74" in findings[0].message
    assert "st_area(geom::geography)" in findings[0].message
    assert "area_m2" in findings[0].message


def test_area_sqm_in_the_select_list_is_flagged_too():
    stmt = select(func.ST_Area(func.ST_Transform(Parcel.geom, 3857)).label("area_sqm"))
    assert codes(stmt) == ["METRES_ON_3857"]


def test_length_on_3857_mentions_the_length_scale():
    stmt = select(func.ST_Length(func.ST_Transform(Parcel.geom, 3857)))
    findings = lint(stmt)
    assert [f.code for f in findings] == ["METRES_ON_3857"]
    assert "1.32" in findings[0].message


def test_a_radius_on_3857_data_is_flagged():
    centre = parse_geometry("POINT(-73.98 40.75)", srid=4326)
    stmt = select(SITES.c.id).where(
        func.ST_DWithin(SITES.c.geom, func.ST_Transform(centre, 3857), 500)
    )
    findings = lint(stmt)
    assert [f.code for f in findings] == ["METRES_ON_3857"]
    assert "379 m" in findings[0].message
    assert "within_distance" in findings[0].message


def test_a_radius_on_a_3857_column_needs_the_catalog():
    sql = "SELECT id FROM sites WHERE ST_DWithin(geom, 'SRID=3857;POINT(1 2)'::geometry, 500)"
    assert codes(sql) == ["METRES_ON_3857"]  # the literal says 3857
    sql = "SELECT id FROM sites WHERE ST_DWithin(geom, $1, 500)"
    assert codes(sql) == []
    assert codes(sql, catalog=catalog(sites=3857)) == ["METRES_ON_3857"]


@pytest.mark.parametrize(
    "expression",
    [
        "ST_Buffer(ST_Transform(geom, 3857), 100)",
        "ST_Distance(ST_Transform(geom, 3857), ST_Transform(ST_MakePoint(1, 2), 3857))",
        "ST_Perimeter(ST_Transform(geom, 900913))",
    ],
)
def test_other_mercator_measurements_are_flagged(expression):
    assert codes(f"SELECT {expression} FROM parcels") == ["METRES_ON_3857"]


@pytest.mark.parametrize(
    "expression",
    [
        "ST_Area(geom::geography)",
        "ST_Area(ST_Transform(geom, 2263))",
        "ST_Length(geom)",
        "ST_DWithin(geom, ST_MakePoint(1, 2), 0.01)",
        "ST_DWithin(geom::geography, ST_MakePoint(1, 2)::geography, 500)",
    ],
)
def test_geodesic_projected_and_unknown_measurements_are_fine(expression):
    assert codes(f"SELECT {expression} FROM parcels", catalog=catalog(parcels=4326)) == []
