"""parse_geometry against a real PostGIS: same validity verdicts, SRIDs that survive binding."""

import pytest
import shapely
from geoalchemy2 import Geometry
from geoalchemy2.shape import to_shape
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, func, insert, select, text

from pgspatial.errors import InvalidGeometry
from pgspatial.geometry import parse_geometry

INVALID = {
    "bow-tie": "POLYGON((0 0,1 1,1 0,0 1,0 0))",
    "ring self-intersection": "POLYGON((0 0,2 0,2 2,1 0,0 2,0 0))",
    "twisted hole": "POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,8 2,2 8,8 8,2 2))",
    "spike": "POLYGON((0 0,10 0,10 5,15 5,10 5,10 10,0 10,0 0))",
    "too few points": "LINESTRING(0 0,0 0)",
    "hole outside shell": "POLYGON((0 0,1 0,1 1,0 1,0 0),(2 2,3 2,3 3,2 3,2 2))",
    "nested holes": (
        "POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,9 1,9 9,1 9,1 1),(2 2,3 2,3 3,2 3,2 2))"
    ),
    "nested shells": "MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0)),((1 1,2 1,2 2,1 2,1 1)))",
}


def _reason(wkt: str) -> str | None:
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(wkt, srid=4326)
    return caught.value.reason


@pytest.mark.parametrize("wkt", INVALID.values(), ids=INVALID.keys())
def test_reason_matches_st_isvalidreason(pgspatial_connection, wkt):
    postgis = pgspatial_connection.execute(
        text("SELECT ST_IsValidReason(ST_GeomFromText(:wkt, 4326))"), {"wkt": wkt}
    ).scalar_one()
    assert _reason(wkt) == postgis


def test_disconnected_interior_matches_up_to_the_reported_location(pgspatial_connection):
    # GEOS 3.11 (PostGIS here) and 3.14 (Shapely's wheel) report a different point of the
    # same defect; the defect itself is the same.
    wkt = "POLYGON((0 0,10 0,10 10,0 10,0 0),(5 0,10 5,5 10,0 5,5 0))"
    postgis = pgspatial_connection.execute(
        text("SELECT ST_IsValidReason(ST_GeomFromText(:wkt, 4326))"), {"wkt": wkt}
    ).scalar_one()
    ours = _reason(wkt)
    assert ours is not None
    assert ours.split("[")[0] == postgis.split("[")[0] == "Interior is disconnected"


@pytest.mark.parametrize(
    "wkt",
    [INVALID["bow-tie"], INVALID["ring self-intersection"], INVALID["twisted hole"]],
)
def test_make_valid_matches_st_makevalid(pgspatial_connection, wkt):
    ours = parse_geometry(wkt, srid=4326, make_valid=True)
    same = pgspatial_connection.execute(
        select(func.ST_Equals(ours, func.ST_MakeValid(func.ST_GeomFromText(wkt, 4326))))
    ).scalar_one()
    assert same is True
    assert ours.repaired is True


def test_st_srid_of_a_bound_parsed_geometry(pgspatial_connection):
    parsed = parse_geometry("SRID=4326;POINT(-73.9857 40.7484)", srid=2263, transform=True)
    assert pgspatial_connection.execute(select(func.ST_SRID(parsed))).scalar_one() == 2263
    typed = bindparam("g", parsed, type_=Geometry(geometry_type="POINT", srid=2263))
    assert pgspatial_connection.execute(select(func.ST_SRID(typed))).scalar_one() == 2263
    ewkt = pgspatial_connection.execute(text("SELECT ST_AsEWKT(:g)").bindparams(typed)).scalar_one()
    assert ewkt.startswith("SRID=2263;POINT(")


def test_insert_and_select_keep_srid_type_and_shape(pgspatial_connection):
    metadata = MetaData()
    parcels = Table(
        "pgspatial_test_parcels",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
        prefixes=["TEMPORARY"],
    )
    metadata.create_all(pgspatial_connection)
    square = {
        "type": "Polygon",
        "coordinates": [[[-74, 40.7], [-73.99, 40.7], [-73.99, 40.71], [-74, 40.71], [-74, 40.7]]],
    }
    parsed = parse_geometry(
        square,
        srid=4326,
        geometry_type="MULTIPOLYGON",
        promote_to_multi=True,
        column="pgspatial_test_parcels.geom",
    )
    repaired = parse_geometry(
        "POLYGON((0 0,1 1,1 0,0 1,0 0))",
        srid=4326,
        geometry_type="MULTIPOLYGON",
        make_valid=True,
    )
    pgspatial_connection.execute(
        insert(parcels), [{"id": 1, "geom": parsed}, {"id": 2, "geom": repaired}]
    )
    rows = pgspatial_connection.execute(
        select(
            parcels.c.id,
            func.ST_SRID(parcels.c.geom),
            func.GeometryType(parcels.c.geom),
            func.ST_IsValid(parcels.c.geom),
            parcels.c.geom,
        ).order_by(parcels.c.id)
    ).all()
    for (_, srid, geometry_type, valid, stored), expected in zip(
        rows, [parsed, repaired], strict=True
    ):
        assert (srid, geometry_type, valid) == (4326, "MULTIPOLYGON", True)
        assert stored.srid == 4326
        assert shapely.equals_exact(to_shape(stored), expected.shape, tolerance=0)
        # What PostGIS returns is accepted as is on the way back in.
        assert parse_geometry(stored, srid=4326, geometry_type="MULTIPOLYGON").srid == 4326
