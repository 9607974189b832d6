"""The search windows contain the whole disc: points at the radius in every direction."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from pgspatial.errors import ConfigError
from pgspatial.predicates.geodesy import lonlat_window, projected_boxes

GEOD = Geod(ellps="WGS84")


def _inside(boxes, x, y):
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


def _rim(lon, lat, metres, steps=72):
    for i in range(steps):
        for fraction in (0.5, 1.0):
            x, y, _ = GEOD.fwd(lon, lat, 360 * i / steps, metres * fraction)
            yield x, y


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-89.5, 89.5),
    metres=st.floats(0, 7).map(lambda e: 10**e),
)
def test_degree_window_contains_the_disc(lon, lat, metres):
    boxes = lonlat_window(lon, lat, metres).boxes
    for x, y in _rim(lon, lat, metres):
        assert _inside(boxes, x, y), (lon, lat, metres, x, y, boxes)


def test_antimeridian_and_poles():
    assert len(lonlat_window(179.99, 0, 10_000).boxes) == 2
    assert len(lonlat_window(-179.99, 0, 10_000).boxes) == 2
    (box,) = lonlat_window(10, 89.99, 5_000).boxes
    assert (box[0], box[2], box[3]) == (-180.0, 180.0, 90.0)
    with pytest.raises(ConfigError, match="negative"):
        lonlat_window(0, 0, -1)


@settings(max_examples=150, deadline=None)
@given(
    case=st.one_of(
        st.tuples(st.just(3857), st.floats(-180, 180), st.floats(-84, 84), st.floats(0, 6.3)),
        # UTM 18N only where it is meant to be used (a transverse Mercator far from its zone
        # is outside PROJ's domain, and pgspatial refuses such windows with a ConfigError).
        st.tuples(st.just(32618), st.floats(-84, -66), st.floats(0, 70), st.floats(0, 5.3)),
    )
)
def test_projected_window_contains_the_disc(case):
    srid, lon, lat, exponent = case
    metres = 10**exponent
    boxes = projected_boxes(lonlat_window(lon, lat, metres), srid)
    forward = Transformer.from_crs(4326, srid, always_xy=True)
    for x, y in _rim(lon, lat, metres, steps=36):
        if abs(y) > 85:
            continue  # outside Web Mercator: no data can be there
        px, py = forward.transform(x, y)
        if math.isfinite(px) and math.isfinite(py):
            assert _inside(boxes, px, py), (srid, lon, lat, metres, x, y)


def test_us_feet_window_is_in_feet():
    (box,) = projected_boxes(lonlat_window(-73.98, 40.75, 1_000), 2263)
    assert 6_000 < box[2] - box[0] < 7_000  # ~2 km across, in US survey feet
