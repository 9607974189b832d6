"""parse_geometry without a database: every input kind, every rule, every error message."""

import pickle

import numpy as np
import orjson
import pytest
import shapely
from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement, WKTElement
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from pgspatial.errors import ConfigError, InvalidGeometry, SridMismatch
from pgspatial.geometry import (
    ParsedGeometry,
    crs_for_srid,
    geometry_type_name,
    is_lonlat_degrees,
    parse_geometry,
    srid_from_crs_name,
)

BOWTIE = "POLYGON((0 0,1 1,1 0,0 1,0 0))"
SQUARE = "POLYGON((0 0,1 0,1 1,0 1,0 0))"
SQUARE_SHAPE = shapely.from_wkt(SQUARE)
SQUARE_GEOJSON = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


def assert_parsed(parsed, expected_shape, srid):
    assert isinstance(parsed, ParsedGeometry)
    assert isinstance(parsed, WKBElement)
    assert parsed.srid == srid
    assert parsed.extended is True
    assert shapely.equals_exact(parsed.shape, expected_shape, tolerance=0)
    # The EWKB carries the same geometry and the SRID inside.
    from_bytes = shapely.from_wkb(bytes(parsed.data))
    assert shapely.get_srid(from_bytes) == srid
    assert shapely.equals_exact(from_bytes, expected_shape, tolerance=0)
    assert parsed.geometry_type == geometry_type_name(expected_shape)
    assert parsed.repaired is False


# --- one test per input kind -------------------------------------------------------------


def test_geojson_dict_is_epsg_4326():
    assert_parsed(parse_geometry(SQUARE_GEOJSON), SQUARE_SHAPE, 4326)


def test_geojson_str():
    assert_parsed(parse_geometry(orjson.dumps(SQUARE_GEOJSON).decode()), SQUARE_SHAPE, 4326)


def test_geojson_feature_dict_and_str_use_its_geometry():
    feature = {"type": "Feature", "geometry": SQUARE_GEOJSON, "properties": {"a": 1}}
    assert_parsed(parse_geometry(feature), SQUARE_SHAPE, 4326)
    assert_parsed(parse_geometry(orjson.dumps(feature).decode()), SQUARE_SHAPE, 4326)


@pytest.mark.parametrize(
    ("name", "srid"),
    [
        ("EPSG:3857", 3857),
        ("urn:ogc:def:crs:EPSG::3857", 3857),
        ("urn:ogc:def:crs:EPSG:6.18:2263", 2263),
        ("http://www.opengis.net/def/crs/EPSG/0/3857", 3857),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", 4326),
        ("urn:ogc:def:crs:EPSG::4326", 4326),
    ],
)
def test_geojson_legacy_named_crs_is_honoured(name, srid):
    assert srid_from_crs_name(name) == srid
    value = {**SQUARE_GEOJSON, "crs": {"type": "name", "properties": {"name": name}}}
    assert_parsed(parse_geometry(value), SQUARE_SHAPE, srid)


def test_geojson_crs_on_the_feature_is_honoured():
    crs = {"type": "name", "properties": {"name": "EPSG:3857"}}
    feature = {"type": "Feature", "geometry": SQUARE_GEOJSON, "properties": {}, "crs": crs}
    assert parse_geometry(feature).srid == 3857


def test_wkt_adopts_the_target_srid():
    assert_parsed(parse_geometry(SQUARE, srid=3857), SQUARE_SHAPE, 3857)


def test_ewkt_srid_is_honoured():
    assert_parsed(parse_geometry(f"SRID=3857;{SQUARE}"), SQUARE_SHAPE, 3857)
    assert_parsed(parse_geometry(f"srid=3857; {SQUARE}", srid=3857), SQUARE_SHAPE, 3857)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_wkb_buffers(wrap):
    wkb = shapely.to_wkb(SQUARE_SHAPE)
    assert_parsed(parse_geometry(wrap(wkb), srid=2263), SQUARE_SHAPE, 2263)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_ewkb_buffers_carry_their_srid(wrap):
    ewkb = shapely.to_wkb(shapely.set_srid(SQUARE_SHAPE, 3857), include_srid=True)
    assert_parsed(parse_geometry(wrap(ewkb)), SQUARE_SHAPE, 3857)


def test_big_endian_wkb():
    wkb = shapely.to_wkb(SQUARE_SHAPE, byte_order=0)
    assert_parsed(parse_geometry(wkb, srid=4326), SQUARE_SHAPE, 4326)


@pytest.mark.parametrize("upper", [False, True])
def test_hex_wkb_and_ewkb_strings(upper):
    hex_wkb = shapely.to_wkb(SQUARE_SHAPE, hex=True)
    hex_ewkb = shapely.to_wkb(shapely.set_srid(SQUARE_SHAPE, 3857), hex=True, include_srid=True)
    if not upper:
        hex_wkb, hex_ewkb = hex_wkb.lower(), hex_ewkb.lower()
    assert_parsed(parse_geometry(hex_wkb, srid=4326), SQUARE_SHAPE, 4326)
    assert_parsed(parse_geometry(hex_ewkb), SQUARE_SHAPE, 3857)


def test_hex_ewkb_as_ascii_bytes():
    hex_ewkb = shapely.to_wkb(shapely.set_srid(SQUARE_SHAPE, 3857), hex=True, include_srid=True)
    assert_parsed(parse_geometry(hex_ewkb.encode()), SQUARE_SHAPE, 3857)


def test_shapely_without_srid_adopts_the_target():
    assert_parsed(parse_geometry(SQUARE_SHAPE, srid=4326), SQUARE_SHAPE, 4326)


def test_shapely_srid_is_honoured():
    assert_parsed(parse_geometry(shapely.set_srid(SQUARE_SHAPE, 2263)), SQUARE_SHAPE, 2263)


def test_shapely_linear_ring_becomes_a_linestring():
    ring = shapely.LinearRing([(0, 0), (1, 0), (1, 1), (0, 0)])
    parsed = parse_geometry(ring, srid=4326, geometry_type="LINESTRING")
    assert parsed.geometry_type == "LINESTRING"
    assert parsed.shape.geom_type == "LineString"


def test_wkb_element_plain_with_srid():
    element = WKBElement(shapely.to_wkb(SQUARE_SHAPE), srid=3857, extended=False)
    assert_parsed(parse_geometry(element), SQUARE_SHAPE, 3857)


def test_wkb_element_ewkb_and_hex():
    ewkb = shapely.to_wkb(shapely.set_srid(SQUARE_SHAPE, 3857), include_srid=True)
    assert_parsed(parse_geometry(WKBElement(ewkb)), SQUARE_SHAPE, 3857)
    assert_parsed(parse_geometry(WKBElement(ewkb.hex())), SQUARE_SHAPE, 3857)


def test_wkb_element_without_srid_adopts_the_target():
    element = WKBElement(shapely.to_wkb(SQUARE_SHAPE), extended=False)
    assert element.srid == -1
    assert_parsed(parse_geometry(element, srid=4326), SQUARE_SHAPE, 4326)


def test_wkt_elements():
    assert_parsed(parse_geometry(WKTElement(SQUARE, srid=3857)), SQUARE_SHAPE, 3857)
    assert_parsed(
        parse_geometry(WKTElement(f"SRID=2263;{SQUARE}", extended=True)), SQUARE_SHAPE, 2263
    )
    assert_parsed(parse_geometry(WKTElement(SQUARE), srid=4326), SQUARE_SHAPE, 4326)


def test_element_whose_srid_contradicts_its_data():
    ewkb = shapely.to_wkb(shapely.set_srid(SQUARE_SHAPE, 3857), include_srid=True)
    with pytest.raises(SridMismatch, match=r"srid=4326.*SRID=3857") as caught:
        parse_geometry(WKBElement(ewkb, srid=4326), column="t.g")
    assert caught.value.expected == 4326
    assert caught.value.actual == 3857
    with pytest.raises(SridMismatch, match=r"t\.g: the WKTElement"):
        parse_geometry(WKTElement(f"SRID=3857;{SQUARE}", srid=4326), column="t.g")


def test_geo_interface_objects():
    geojson_pydantic = pytest.importorskip("geojson_pydantic")
    model = geojson_pydantic.Polygon.model_validate(SQUARE_GEOJSON)
    assert_parsed(parse_geometry(model), SQUARE_SHAPE, 4326)


def test_parsed_geometry_is_returned_as_is_for_the_same_target():
    parsed = parse_geometry(SQUARE, srid=4326, geometry_type="POLYGON")
    assert parse_geometry(parsed) is parsed
    assert parse_geometry(parsed, srid=4326, geometry_type="polygon") is parsed
    assert parse_geometry(parsed, geometry_type="GEOMETRY") is parsed


def test_parsed_geometry_is_rechecked_against_a_new_target():
    parsed = parse_geometry(SQUARE, srid=4326)
    with pytest.raises(SridMismatch):
        parse_geometry(parsed, srid=3857)
    with pytest.raises(InvalidGeometry, match="expected a POINT but got a POLYGON"):
        parse_geometry(parsed, geometry_type="POINT")
    promoted = parse_geometry(parsed, geometry_type="MULTIPOLYGON", promote_to_multi=True)
    assert promoted.geometry_type == "MULTIPOLYGON"
    assert promoted.srid == 4326
    moved = parse_geometry(parsed, srid=3857, transform=True)
    assert moved.srid == 3857
    assert moved.shape.bounds[2] == pytest.approx(111319.49079327357)


def test_hand_built_parsed_geometry_is_checked_in_full():
    ewkb = shapely.to_wkb(shapely.set_srid(shapely.from_wkt(BOWTIE), 4326), include_srid=True)
    hand_built = ParsedGeometry(ewkb, srid=4326)
    assert hand_built.shape.geom_type == "Polygon"
    with pytest.raises(InvalidGeometry, match="Self-intersection"):
        parse_geometry(hand_built)


# --- ParsedGeometry as a GeoAlchemy2 element ---------------------------------------------


def test_parsed_geometry_binds_as_ewkb_with_its_srid():
    parsed = parse_geometry("POINT(1 2)", srid=4326)
    bind = Geometry(geometry_type="POINT", srid=4326).bind_processor(postgresql.dialect())
    assert bind(parsed) == "0101000020e6100000000000000000f03f0000000000000040"
    sql = str(select(func.ST_SRID(parsed)).compile(dialect=postgresql.dialect()))
    assert "ST_GeomFromEWKB" in sql


def test_parsed_geometry_keeps_z_and_m_in_its_ewkb():
    parsed = parse_geometry("POINT ZM (1 2 3 4)", srid=4326, geometry_type="POINT")
    assert shapely.to_wkt(shapely.from_wkb(bytes(parsed.data))) == "POINT ZM (1 2 3 4)"


def test_parsed_geometry_pickles_with_its_shape():
    parsed = parse_geometry(BOWTIE, srid=4326, make_valid=True)
    again = pickle.loads(pickle.dumps(parsed))
    assert again == parsed
    assert again.repaired is True
    assert again.geometry_type == "MULTIPOLYGON"
    assert shapely.equals_exact(again.shape, parsed.shape, tolerance=0)
    assert parse_geometry(again) is again


def test_parsed_geometry_repr_and_geo_interface():
    parsed = parse_geometry("POINT(1 2)", srid=4326)
    assert repr(parsed) == "<ParsedGeometry SRID=4326 'POINT (1 2)'>"
    assert parsed.__geo_interface__ == {"type": "Point", "coordinates": (1.0, 2.0)}


@pytest.mark.parametrize(
    ("wkt", "name"),
    [
        ("POINT(1 2)", "POINT"),
        ("LINESTRING(0 0,1 1)", "LINESTRING"),
        (SQUARE, "POLYGON"),
        ("MULTIPOINT(1 2,3 4)", "MULTIPOINT"),
        ("MULTILINESTRING((0 0,1 1))", "MULTILINESTRING"),
        (f"MULTIPOLYGON(({SQUARE[8:-1]}))", "MULTIPOLYGON"),
        ("GEOMETRYCOLLECTION(POINT(1 2))", "GEOMETRYCOLLECTION"),
        ("POINT Z (1 2 3)", "POINT"),
    ],
)
def test_geometry_type_name(wkt, name):
    assert geometry_type_name(shapely.from_wkt(wkt)) == name


# --- unsupported and unparseable input ---------------------------------------------------


@pytest.mark.parametrize("value", [42, None, [1, 2], 1.5, object()])
def test_unsupported_kinds_list_what_is_accepted(value):
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(value, srid=4326, column="parcels.geom")
    message = str(caught.value)
    assert message.startswith("parcels.geom: cannot make a geometry from a")
    for kind in ("GeoJSON", "WKT", "EWKT", "WKB/EWKB", "Shapely", "WKBElement", "ParsedGeometry"):
        assert kind in message
    assert caught.value.column == "parcels.geom"


@pytest.mark.parametrize(
    ("value", "fmt", "complaint"),
    [
        ("POINT(1", "WKT", "ParseException"),
        ("HELLO(1 2)", "WKT", "ParseException"),
        ("SRID=4326;POINT(1", "EWKT", "ParseException"),
        ("0101000000", "hex WKB/EWKB", "ParseException"),
        ("abc", "hex WKB/EWKB", ""),
        (b"\x01\x01\x00", "WKB/EWKB", "ParseException"),
        (b"\x07junk", "WKB/EWKB", "byte-order byte"),
        ('{"type": "Point", "coordinates": [1, 2]', "GeoJSON", "unexpected"),
        ({"type": "Point", "coordinates": [1]}, "GeoJSON Point", ""),
        ({"type": "Polygon", "coordinates": [[1, 2]]}, "GeoJSON Polygon", "not iterable"),
        (WKBElement(b"\x01\x02\x00\x00\x00"), "WKBElement", "ParseException"),
    ],
)
def test_unparseable_input_names_the_format_and_the_complaint(value, fmt, complaint):
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(value, srid=4326, column="parcels.geom")
    message = str(caught.value)
    assert message.startswith(f"parcels.geom: could not parse the value as {fmt}")
    assert complaint.lower() in message.lower()


def test_huge_unparseable_input_is_not_echoed_whole():
    value = "POLYGON((" + ", ".join(f"{i} {i}" for i in range(100_000)) + "x"
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(value, srid=4326)
    message = str(caught.value)
    assert len(message) < 300
    assert "characters)" in message
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(b"\x01" + b"\xff" * 100_000, srid=4326)
    assert len(str(caught.value)) < 300
    assert "100001 bytes" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"type": "Feature", "geometry": None, "properties": {}}, "Feature has no geometry"),
        ({"type": "FeatureCollection", "features": []}, "FeatureCollection"),
        ({"type": "Circle", "coordinates": [1, 2]}, "must be a geometry type"),
        ({"coordinates": [1, 2]}, "must be a geometry type"),
        ({"type": "Point"}, 'has no "coordinates" member'),
        ({"type": "GeometryCollection"}, 'has no "geometries" member'),
        ("[1, 2]", "must be an object"),
        ("   ", "empty string"),
        (
            {**SQUARE_GEOJSON, "crs": {"type": "name", "properties": {"name": "WGS84-ish"}}},
            'unsupported GeoJSON "crs"',
        ),
        (
            {**SQUARE_GEOJSON, "crs": {"type": "link", "properties": {"href": "x"}}},
            'unsupported GeoJSON "crs"',
        ),
    ],
)
def test_malformed_geojson(value, fragment):
    with pytest.raises(InvalidGeometry, match=r"^parcels\.geom: ") as caught:
        parse_geometry(value, column="parcels.geom")
    assert fragment in str(caught.value)


# --- coordinates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "POINT EMPTY",
        "POLYGON EMPTY",
        "GEOMETRYCOLLECTION EMPTY",
        {"type": "Point", "coordinates": []},
    ],
)
def test_empty_geometries_are_rejected(value):
    with pytest.raises(InvalidGeometry, match=r"^parcels.geom: the \w+ is empty"):
        parse_geometry(value, srid=4326, column="parcels.geom")


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("LINESTRING(0 0, 1 NaN, 2 2)", "#2 (1 nan)"),
        ("POINT(inf 1)", "#1 (inf 1)"),
        ("POINT Z (1 2 -inf)", "#1 (1 2 -inf)"),
        ({"type": "Point", "coordinates": [float("nan"), 1.0]}, "#1 (nan 1)"),
        (shapely.LineString([(0, 0), (1, float("inf"))]), "#2 (1 inf)"),
    ],
)
def test_non_finite_coordinates_are_rejected_naming_the_first(value, where):
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(value, srid=3857, column="roads.geom")
    message = str(caught.value)
    assert message.startswith("roads.geom: coordinate ")
    assert where in message
    assert "not finite" in message


def test_swapped_lat_lon_gets_a_hint():
    # (lat, lon) of Manhattan, sent as x=lat, y=lon.
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry("POINT(40.75 -173.99)", srid=4326, column="stops.geom")
    message = str(caught.value)
    assert message.startswith("stops.geom: coordinate #1 (40.75 -173.99) is out of range")
    assert "latitude/longitude order" in message
    assert "(-173.99 40.75)" in message


def test_projected_coordinates_in_a_geographic_srid_get_a_hint():
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry("LINESTRING(0 0, 583000 4507000)", srid=4326)
    message = str(caught.value)
    assert "coordinate #2 (583000 4507000) is out of range for EPSG:4326" in message
    assert "transform=True" in message


def test_any_geographic_srid_from_pyproj_is_range_checked():
    assert is_lonlat_degrees(4269)  # NAD83
    assert not is_lonlat_degrees(2263)
    with pytest.raises(InvalidGeometry, match="out of range for EPSG:4269"):
        parse_geometry("POINT(-74 95)", srid=4269)
    assert parse_geometry("POINT(-74 95)", srid=2263).srid == 2263


def test_range_boundaries_are_accepted():
    parse_geometry("LINESTRING(-180 -90, 180 90)", srid=4326)


def test_crs_lookups_are_cached():
    crs_for_srid.cache_clear()
    for _ in range(5):
        parse_geometry("POINT(1 2)", srid=4269)
    assert crs_for_srid.cache_info().misses <= 1
    assert crs_for_srid(999_999) is None


# --- SRID rules --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [SQUARE, shapely.to_wkb(SQUARE_SHAPE), SQUARE_SHAPE])
def test_unknown_srid_without_a_target(value):
    with pytest.raises(SridMismatch) as caught:
        parse_geometry(value, column="parcels.geom")
    message = str(caught.value)
    assert message.startswith("parcels.geom: the SRID of this")
    assert "unknown" in message
    assert "srid=" in message
    assert "EWKT" in message


def test_known_srid_without_a_target_is_kept():
    assert parse_geometry("SRID=2263;POINT(1000 2000)").srid == 2263


def test_srid_mismatch_names_both_srids_and_the_fixes():
    with pytest.raises(SridMismatch) as caught:
        parse_geometry("SRID=3857;POINT(1 2)", srid=4326, column="parcels.geom")
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.expected, error.actual) == (4326, 3857)
    message = str(error)
    assert message.startswith("parcels.geom: the geometry has SRID 3857")
    assert "requires SRID 4326" in message
    assert "ST_Transform(geom, 4326)" in message
    assert "transform=True" in message


def test_geojson_is_4326_so_another_target_is_a_mismatch():
    with pytest.raises(SridMismatch, match="SRID 4326 but the target requires SRID 3857"):
        parse_geometry(SQUARE_GEOJSON, srid=3857)


@pytest.mark.parametrize("srid", [0, -1, -4326])
def test_non_positive_target_srid_is_a_config_error(srid):
    with pytest.raises(ConfigError, match=f"srid={srid}"):
        parse_geometry("POINT(1 2)", srid=srid)


@pytest.mark.parametrize("srid", [True, "4326", 4326.0])
def test_non_integer_target_srid_is_a_config_error(srid):
    with pytest.raises(ConfigError):
        parse_geometry("POINT(1 2)", srid=srid)


@pytest.mark.parametrize("geometry_type", ["CIRCLE", "CURVE", "", "POINTZZ", 3])
def test_unknown_target_type_is_a_config_error(geometry_type):
    with pytest.raises(ConfigError, match="geometry_type"):
        parse_geometry("POINT(1 2)", srid=4326, geometry_type=geometry_type)


def test_zero_srid_in_the_input_counts_as_unknown():
    assert parse_geometry("SRID=0;POINT(1 2)", srid=3857).srid == 3857
    assert parse_geometry(shapely.set_srid(shapely.Point(1, 2), 0), srid=3857).srid == 3857


# --- transform=True ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "wkt"),
    [
        (4326, 3857, "LINESTRING(-73.9857 40.7484, -74.0445 40.6892)"),
        (4326, 2263, "POLYGON((-74 40.7,-73.9 40.7,-73.9 40.8,-74 40.8,-74 40.7))"),
        (3857, 4326, "POINT(-8236000 4975000)"),
        (2263, 32618, "POINT(987000 212000)"),
    ],
)
def test_transform_reprojects_like_pyproj(source, target, wkt):
    parsed = parse_geometry(f"SRID={source};{wkt}", srid=target, transform=True)
    assert parsed.srid == target
    assert shapely.get_srid(shapely.from_wkb(bytes(parsed.data))) == target
    original = shapely.get_coordinates(shapely.from_wkt(wkt))
    expected = np.column_stack(
        Transformer.from_crs(source, target, always_xy=True).transform(*original.T)
    )
    np.testing.assert_allclose(shapely.get_coordinates(parsed.shape), expected, atol=1e-6)


def test_transform_keeps_z():
    parsed = parse_geometry("SRID=4326;POINT Z (-74 40.7 10)", srid=3857, transform=True)
    assert parsed.shape.has_z
    assert shapely.get_coordinates(parsed.shape, include_z=True)[0, 2] == pytest.approx(10)


def test_transform_of_geojson_to_the_column_crs():
    parsed = parse_geometry(
        {"type": "Point", "coordinates": [-73.9857, 40.7484]}, srid=2263, transform=True
    )
    x, y = parsed.shape.x, parsed.shape.y
    assert (x, y) == pytest.approx((988_000, 211_900), abs=1_000)  # feet, NY Long Island


def test_transform_that_pyproj_cannot_do_is_invalid():
    # The south pole has no place in New York State Plane: pyproj returns infinity.
    with pytest.raises(InvalidGeometry, match="reprojecting from EPSG:4326 to EPSG:2263 failed"):
        parse_geometry("SRID=4326;POINT(0 -90)", srid=2263, transform=True, column="t.g")


def test_transform_from_an_srid_pyproj_does_not_know():
    with pytest.raises(SridMismatch, match="pyproj does not know SRID 999999") as caught:
        parse_geometry("SRID=999999;POINT(1 2)", srid=4326, transform=True)
    assert (caught.value.expected, caught.value.actual) == (4326, 999999)


def test_transform_refuses_m_values():
    with pytest.raises(SridMismatch, match="M values"):
        parse_geometry("SRID=3857;POINT M (1 2 3)", srid=4326, transform=True)


# --- geometry types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wkt", "target"),
    [
        ("POINT(1 2)", "MULTIPOINT"),
        ("LINESTRING(0 0,1 1)", "MULTILINESTRING"),
        (SQUARE, "MULTIPOLYGON"),
        ("POINT Z (1 2 3)", "MULTIPOINTZ"),
    ],
)
def test_promote_to_multi(wkt, target):
    with pytest.raises(InvalidGeometry, match="promote_to_multi=True"):
        parse_geometry(wkt, srid=4326, geometry_type=target, column="t.g")
    parsed = parse_geometry(wkt, srid=4326, geometry_type=target, promote_to_multi=True)
    assert parsed.geometry_type == target.removesuffix("Z")
    assert len(parsed.shape.geoms) == 1
    assert shapely.equals_exact(parsed.shape.geoms[0], shapely.from_wkt(wkt), tolerance=0)
    assert parsed.shape.has_z == shapely.from_wkt(wkt).has_z


def test_promote_to_multi_leaves_fitting_types_alone():
    parsed = parse_geometry(SQUARE, srid=4326, geometry_type="POLYGON", promote_to_multi=True)
    assert parsed.geometry_type == "POLYGON"
    parsed = parse_geometry(SQUARE, srid=4326, promote_to_multi=True)
    assert parsed.geometry_type == "POLYGON"


@pytest.mark.parametrize(
    ("wkt", "target", "hint"),
    [
        ("POINT(1 2)", "POLYGON", "send a Polygon, or store it in a POINT or GEOMETRY column"),
        (f"MULTIPOLYGON(({SQUARE[8:-1]}))", "POLYGON", "send its single part as a Polygon"),
        ("LINESTRING(0 0,1 1)", "MULTIPOLYGON", "send a MultiPolygon"),
        ("GEOMETRYCOLLECTION(POINT(1 2))", "POINT", "send a Point"),
        ("POINT(1 2)", "GEOMETRYCOLLECTION", "send a GeometryCollection"),
    ],
)
def test_type_mismatch_names_both_types_and_what_to_do(wkt, target, hint):
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(wkt, srid=4326, geometry_type=target, column="parcels.geom")
    message = str(caught.value)
    actual = geometry_type_name(shapely.from_wkt(wkt))
    assert message.startswith(f"parcels.geom: expected a {target} but got a {actual}")
    assert hint in message


@pytest.mark.parametrize(
    "target", ["POINT", "pointz", "POINTM", "PointZM", "point z", None, "geometry"]
)
def test_z_and_m_suffixes_are_ignored_but_dimensions_kept(target):
    parsed = parse_geometry("POINT Z (1 2 3)", srid=4326, geometry_type=target)
    assert parsed.geometry_type == "POINT"
    assert parsed.shape.has_z


# --- validity and make_valid -------------------------------------------------------------


def test_invalid_geometry_reports_the_geos_reason():
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(BOWTIE, srid=4326, geometry_type="POLYGON", column="parcels.geom")
    error = caught.value
    assert error.reason == "Self-intersection[0.5 0.5]"
    assert error.column == "parcels.geom"
    assert str(error) == (
        "parcels.geom: invalid Polygon: Self-intersection at (0.5 0.5). "
        "Repair it with make_valid=True (ST_MakeValid) or fix the source."
    )


@pytest.mark.parametrize(
    ("wkt", "reason"),
    [
        ("POLYGON((0 0,2 0,2 2,1 0,0 2,0 0))", "Ring Self-intersection[1 0]"),
        ("POLYGON((0 0,1 0,1 1,0 1,0 0),(2 2,3 2,3 3,2 3,2 2))", "Hole lies outside shell[2 2]"),
        (
            "MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0)),((1 1,2 1,2 2,1 2,1 1)))",
            "Nested shells[1 1]",
        ),
        ("LINESTRING(0 0,0 0)", "Too few points in geometry component[0 0]"),
    ],
)
def test_other_invalidity_reasons(wkt, reason):
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(wkt, srid=4326)
    assert caught.value.reason == reason
    assert "make_valid=True" in str(caught.value)


def test_make_valid_bowtie_into_a_polygon_column_names_the_type_change():
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(
            BOWTIE, srid=4326, geometry_type="POLYGON", make_valid=True, column="parcels.geom"
        )
    message = str(caught.value)
    assert message.startswith("parcels.geom: invalid Polygon: Self-intersection at (0.5 0.5)")
    assert "turns it into a MultiPolygon" in message
    assert "POLYGON target does not accept" in message
    assert caught.value.reason == "Self-intersection[0.5 0.5]"


@pytest.mark.parametrize("target", ["MULTIPOLYGON", "GEOMETRY", None])
def test_make_valid_bowtie_is_accepted_where_a_multipolygon_fits(target):
    parsed = parse_geometry(BOWTIE, srid=4326, geometry_type=target, make_valid=True)
    assert parsed.repaired is True
    assert parsed.geometry_type == "MULTIPOLYGON"
    assert parsed.shape.is_valid
    assert parsed.shape.area == pytest.approx(0.5)
    assert shapely.get_srid(shapely.from_wkb(bytes(parsed.data))) == 4326


def test_make_valid_into_a_collection_with_lines_is_an_error():
    spike = "POLYGON((0 0,10 0,10 5,15 5,10 5,10 10,0 10,0 0))"
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(spike, srid=3857, geometry_type="POLYGON", make_valid=True)
    assert "turns it into a GeometryCollection of LineString, Polygon" in str(caught.value)
    parsed = parse_geometry(spike, srid=3857, geometry_type="GEOMETRY", make_valid=True)
    assert parsed.geometry_type == "GEOMETRYCOLLECTION"


def test_make_valid_collapsing_a_multipolygon_keeps_the_multi_type():
    twice = "MULTIPOLYGON(((0 0,2 0,2 2,0 2,0 0)),((0 0,2 0,2 2,0 2,0 0)))"
    parsed = parse_geometry(twice, srid=3857, geometry_type="MULTIPOLYGON", make_valid=True)
    assert parsed.geometry_type == "MULTIPOLYGON"
    assert parsed.repaired is True
    assert parsed.shape.area == pytest.approx(4)


def test_make_valid_of_the_wrong_type_is_still_a_type_error():
    with pytest.raises(InvalidGeometry, match="expected a POINT but got a POLYGON"):
        parse_geometry(BOWTIE, srid=4326, geometry_type="POINT", make_valid=True)


def test_make_valid_leaves_valid_geometries_alone():
    parsed = parse_geometry(SQUARE, srid=4326, geometry_type="POLYGON", make_valid=True)
    assert parsed.repaired is False
    assert shapely.equals_exact(parsed.shape, SQUARE_SHAPE, tolerance=0)


def test_messages_without_a_column_have_no_prefix():
    with pytest.raises(InvalidGeometry) as caught:
        parse_geometry(BOWTIE, srid=4326)
    assert str(caught.value).startswith("invalid Polygon:")
    assert caught.value.column is None


# --- property: valid polygons round-trip through every format ----------------------------

coordinate = st.tuples(
    st.floats(-180, 180, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 7)),
    st.floats(-90, 90, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 7)),
)


@st.composite
def star_polygons(draw):
    """Star-shaped (so simple) polygons around a centre, coordinates in lon/lat range."""
    cx, cy = draw(coordinate)
    count = draw(st.integers(3, 12))
    angles = sorted(
        draw(
            st.lists(
                st.floats(0, 6.283, allow_nan=False), min_size=count, max_size=count, unique=True
            )
        )
    )
    radii = draw(st.lists(st.floats(1e-3, 10), min_size=count, max_size=count))
    ring = [
        (
            round(min(180.0, max(-180.0, cx + r * np.cos(a))), 7),
            round(min(90.0, max(-90.0, cy + r * np.sin(a))), 7),
        )
        for a, r in zip(angles, radii, strict=True)
    ]
    polygon = shapely.Polygon(ring)
    assume(polygon.is_valid and polygon.area > 0)
    return polygon


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(star_polygons())
def test_valid_polygons_round_trip_through_every_format(polygon):
    wkt = shapely.to_wkt(polygon, rounding_precision=-1)
    ewkb = shapely.to_wkb(shapely.set_srid(polygon, 4326), include_srid=True)
    geojson = shapely.to_geojson(polygon)
    for value in (wkt, f"SRID=4326;{wkt}", ewkb, ewkb.hex(), geojson, orjson.loads(geojson)):
        parsed = parse_geometry(value, srid=4326, geometry_type="POLYGON")
        assert parsed.srid == 4326
        assert shapely.equals_exact(parsed.shape, polygon, tolerance=0), value
        # ... and the ParsedGeometry itself round-trips through its own EWKB.
        again = parse_geometry(bytes(parsed.data), geometry_type="POLYGON")
        assert again.srid == 4326
        assert shapely.equals_exact(again.shape, polygon, tolerance=0)


@pytest.mark.parametrize("kind", [{}, [], 1, None])
def test_a_geojson_type_that_is_not_a_string_is_invalid_not_a_crash(kind):
    with pytest.raises(InvalidGeometry, match='GeoJSON "type"'):
        parse_geometry({"type": kind, "coordinates": [0, 0]}, srid=4326)
