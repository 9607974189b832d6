"""The vectorized geometry checks of bulk loads agree with parse_geometry, row by row:
the same accept/reject decision, the same stored geometry, the same message."""

import math

import numpy as np
import orjson
import pytest
import shapely
from geoalchemy2.elements import WKBElement
from hypothesis import given, settings
from hypothesis import strategies as st

from pgspatial.bulk.decoding import decode_values
from pgspatial.bulk.target import SpatialSpec
from pgspatial.bulk.vectorized import GeometryRule, check_geometries
from pgspatial.errors import InvalidGeometry, SridMismatch
from pgspatial.geometry import parse_geometry

BOX = shapely.box(-74.0, 40.7, -73.99, 40.71)
BOWTIE = shapely.from_wkt("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))")
SPIKE = shapely.from_wkt("POLYGON((0 0, 2 0, 2 2, 1 2, 2 2, 0 2, 0 0))")  # a backtracking spike
DUPLICATES = shapely.from_wkt("POLYGON((0 0, 1 0, 1 0, 1 1, 0 1, 0 0))")
with np.errstate(invalid="ignore"):
    NAN_RING = shapely.Polygon([(0, 0), (1, 0), (1, math.nan), (0, 0)])


def spec(geometry_type="POLYGON", srid=4326, dims=2, has_z=False):
    return SpatialSpec("geometry", geometry_type, srid, has_z, False, dims)


def rule(**kw):
    options = {k: kw.pop(k) for k in ("make_valid", "transform", "promote") if k in kw}
    return GeometryRule("geom", "t.geom", spec(**kw), nullable=False, **options)


def one_by_one(value, r):
    """What parse_geometry (plus the column's Z/M rule) says about one value."""
    try:
        parsed = parse_geometry(
            value,
            srid=r.spec.srid,
            geometry_type=r.spec.geometry_type,
            make_valid=r.make_valid,
            transform=r.transform,
            promote_to_multi=r.promote,
            column=r.label,
        )
    except (InvalidGeometry, SridMismatch) as error:
        return None, str(error)
    if r.spec.dims is not None and bool(shapely.has_z(parsed.shape)) != r.spec.has_z:
        return None, "dimensions"
    return bytes(parsed.data), None


def assert_agree(values, r):
    checked = check_geometries(decode_values(values), r)
    for i, value in enumerate(values):
        expected, reason = one_by_one(value, r)
        if value is None:
            assert i in checked.rejected
            continue
        if expected is None:
            assert i in checked.rejected, f"row {i} ({value!r}) should be rejected: {reason}"
            if reason != "dimensions":
                assert checked.rejected[i] == reason
            else:
                assert "coordinates but the column takes" in checked.rejected[i]
        else:
            assert i not in checked.rejected, f"row {i}: {checked.rejected.get(i)}"
            got = shapely.from_wkb(checked.ewkb[i])
            want = shapely.from_wkb(expected)
            assert shapely.get_srid(got) == shapely.get_srid(want)
            assert shapely.equals_exact(got, want, tolerance=0), (value, got, want)
    return checked


def mixed_inputs():
    moved = shapely.set_srid(
        shapely.transform(BOX, lambda c: c * 111_000), 3857
    )  # not a faithful 3857 box, but a valid one
    return [
        BOX,
        shapely.set_srid(BOX, 4326),
        shapely.to_wkb(BOX),
        shapely.to_wkb(shapely.set_srid(BOX, 4326), include_srid=True),
        shapely.to_wkb(BOX, hex=True),
        shapely.to_wkt(BOX),
        "SRID=4326;" + shapely.to_wkt(BOX),
        orjson.loads(shapely.to_geojson(BOX)),
        shapely.to_geojson(BOX),
        WKBElement(shapely.to_wkb(BOX), srid=4326),
        parse_geometry(BOX, srid=4326),
        BOWTIE,
        shapely.from_wkt("POLYGON EMPTY"),
        NAN_RING,
        shapely.Polygon([(0, 0), (1, 0), (1, math.inf), (0, 0)]),
        shapely.Point(1, 2),
        shapely.MultiPolygon([BOX]),
        shapely.box(100, 100, 200, 200),
        shapely.box(40.7, -74.0, 40.71, -73.99),
        shapely.box(-74.0, 40.7, -73.99, 95),
        moved,
        shapely.LinearRing([(0, 0), (1, 0), (1, 1)]),
        b"\x01garbage",
        "not a geometry",
        "POLYGON((0 0, 1 0",
        shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 0, 1)]),
        SPIKE,
        DUPLICATES,
        shapely.to_wkb(shapely.set_srid(BOX, 3857), include_srid=True),
        WKBElement(shapely.to_wkb(shapely.set_srid(BOX, 4326), include_srid=True), srid=3857),
        None,
        12345,
    ]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"make_valid": True},
        {"promote": True, "geometry_type": "MULTIPOLYGON"},
        {"geometry_type": "MULTIPOLYGON"},
        {"make_valid": True, "geometry_type": "MULTIPOLYGON"},
        {"geometry_type": "GEOMETRY"},
        {"transform": True},
        {"geometry_type": "GEOMETRY", "srid": None, "dims": None},
        {"srid": 3857, "transform": True},
    ],
)
def test_vectorized_checks_agree_with_parse_geometry(options):
    assert_agree(mixed_inputs(), rule(**options))


def test_good_rows_take_the_vectorized_path_and_bad_ones_the_exact_one():
    values = [BOX] * 50 + [BOWTIE] + [shapely.to_wkb(BOX)] * 49
    checked = assert_agree(values, rule())
    assert checked.fallback_rows == 1
    assert "Self-intersection" in checked.rejected[50]


def test_repairs_are_parse_geometrys_repairs_and_are_counted():
    values = [SPIKE, DUPLICATES, BOX, BOWTIE]
    checked = assert_agree(values, rule(make_valid=True))
    assert checked.repaired == {0}  # duplicate vertices are valid: no repair needed
    assert 3 in checked.rejected and "MultiPolygon" in checked.rejected[3]
    multi = assert_agree(values, rule(make_valid=True, geometry_type="MULTIPOLYGON"))
    assert 3 in multi.repaired and 3 not in multi.rejected


def test_ewkb_that_already_says_what_is_stored_is_passed_through_untouched():
    ewkb = shapely.to_wkb(shapely.set_srid(BOX, 4326), include_srid=True, byte_order=0)
    checked = check_geometries(decode_values([ewkb]), rule())
    assert checked.ewkb[0] is ewkb
    plain = shapely.to_wkb(BOX)
    checked = check_geometries(decode_values([plain]), rule())
    assert shapely.get_srid(shapely.from_wkb(checked.ewkb[0])) == 4326


def test_nulls_are_null_in_a_nullable_column_and_rejected_otherwise():
    nullable = GeometryRule("geom", "t.geom", spec(), nullable=True)
    checked = check_geometries(decode_values([None, BOX]), nullable)
    assert checked.ewkb[0] is None
    assert not checked.rejected
    checked = check_geometries(decode_values([None, BOX]), rule())
    assert "NULL" in checked.rejected[0]


def test_transform_reprojects_in_bulk_exactly_like_parse_geometry():
    rng = np.random.default_rng(5)
    boxes = [
        shapely.set_srid(shapely.box(x, y, x + 30, y + 30), 2263)
        for x, y in zip(rng.uniform(9.8e5, 1.0e6, 200), rng.uniform(1.9e5, 2.1e5, 200), strict=True)
    ]
    assert_agree(boxes, rule(transform=True))


coordinate = st.floats(-200, 200, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=7), max_size=8))
def test_random_rings_agree(rings):
    values = []
    for ring in rings:
        try:
            values.append(shapely.Polygon(ring))
        except (ValueError, shapely.errors.GEOSException):
            continue
    if values:
        assert_agree(values, rule())
        assert_agree(values, rule(make_valid=True, geometry_type="GEOMETRY"))
