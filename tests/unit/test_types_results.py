"""Result elements of pgspatial's spatial types: the same WKBElement GeoAlchemy2 makes."""

import shapely
from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import to_shape
from sqlalchemy.dialects import postgresql

from pgspatial.types import SpatialGeography, SpatialGeometry

DIALECT = postgresql.psycopg.dialect()
EWKB = shapely.to_wkb(shapely.set_srid(shapely.box(1, 2, 3, 4), 4326), include_srid=True)


def test_a_column_with_an_srid_gives_geoalchemy2s_element_without_reparsing():
    ours = SpatialGeometry("POLYGON", srid=4326).result_processor(DIALECT, None)
    theirs = Geometry("POLYGON", srid=4326).result_processor(DIALECT, None)
    assert ours is not None and theirs is not None
    element, expected = ours(EWKB), theirs(EWKB)
    assert type(element) is WKBElement
    assert element == expected
    assert (element.srid, element.extended, element.data) == (4326, True, EWKB)
    assert to_shape(element).equals(shapely.box(1, 2, 3, 4))
    assert ours(None) is None


def test_columns_without_an_srid_or_not_extended_keep_geoalchemy2s_processor():
    anywhere = SpatialGeometry("POLYGON").result_processor(DIALECT, None)
    assert anywhere is not None
    assert anywhere(EWKB).srid == 4326  # read from the EWKB, as GeoAlchemy2 does
    assert "_DirectResults" not in anywhere.__qualname__
    geography = SpatialGeography("POLYGON", srid=4326).result_processor(DIALECT, None)
    assert geography is not None and "_DirectResults" not in geography.__qualname__
