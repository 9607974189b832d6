"""Pydantic field types for GeoJSON request bodies, validated through parse_geometry."""

from typing import Annotated

import pytest
import shapely
from pydantic import BaseModel, ValidationError

from pgspatial.errors import ConfigError
from pgspatial.geometry import GeoJSONGeometry, GeoJSONGeometryInput, ParsedGeometry

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


class ParcelIn(BaseModel):
    parcel_id: str
    geom: GeoJSONGeometryInput("POLYGON")


class AnyGeometryIn(BaseModel):
    geom: Annotated[ParsedGeometry, GeoJSONGeometry()]


def test_a_good_polygon_validates_to_a_parsed_geometry():
    parcel = ParcelIn.model_validate({"parcel_id": "NYC-1", "geom": SQUARE})
    assert isinstance(parcel.geom, ParsedGeometry)
    assert parcel.geom.srid == 4326
    assert parcel.geom.geometry_type == "POLYGON"
    assert shapely.equals(parcel.geom.shape, shapely.geometry.shape(SQUARE))


def test_it_serializes_back_to_geojson_and_round_trips():
    parcel = ParcelIn.model_validate({"parcel_id": "NYC-1", "geom": SQUARE})
    dumped = parcel.model_dump()
    assert dumped["geom"] == {
        "type": "Polygon",
        "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]],
    }
    again = ParcelIn.model_validate_json(parcel.model_dump_json())
    assert again.geom == parcel.geom


def test_a_bowtie_is_rejected_with_a_helpful_message():
    with pytest.raises(ValidationError) as caught:
        ParcelIn.model_validate({"parcel_id": "NYC-1", "geom": BOWTIE})
    (error,) = caught.value.errors()
    assert error["loc"] == ("geom",)
    assert error["type"] == "invalid_geometry"
    assert error["msg"] == (
        "invalid Polygon: Self-intersection at (0.5 0.5). "
        "Repair it with make_valid=True (ST_MakeValid) or fix the source."
    )
    assert error["ctx"]["reason"] == "Self-intersection[0.5 0.5]"


def test_a_point_is_rejected():
    with pytest.raises(ValidationError) as caught:
        ParcelIn.model_validate(
            {"parcel_id": "NYC-1", "geom": {"type": "Point", "coordinates": [1, 2]}}
        )
    (error,) = caught.value.errors()
    assert error["type"] == "invalid_geometry"
    assert "expected a POLYGON but got a POINT" in error["msg"]


@pytest.mark.parametrize(
    "geom",
    [
        "POLYGON((0 0,1 0,1 1,0 0))",
        {"type": "Feature", "geometry": SQUARE},
        42,
        {"coordinates": []},
    ],
)
def test_only_geojson_geometry_objects_are_accepted(geom):
    with pytest.raises(ValidationError) as caught:
        ParcelIn.model_validate({"parcel_id": "NYC-1", "geom": geom})
    (error,) = caught.value.errors()
    assert error["type"] == "geojson_geometry"
    assert "GeoJSON geometry object" in error["msg"]


def test_srid_mismatch_surfaces_as_its_own_error_type():
    class Projected(BaseModel):
        geom: GeoJSONGeometryInput("POINT", srid=3857)

    with pytest.raises(ValidationError) as caught:
        Projected.model_validate({"geom": {"type": "Point", "coordinates": [-74, 40.7]}})
    (error,) = caught.value.errors()
    assert error["type"] == "srid_mismatch"
    assert (error["ctx"]["expected"], error["ctx"]["actual"]) == (3857, 4326)


def test_transform_stores_the_column_crs_and_serializes_rfc7946_lonlat():
    class Projected(BaseModel):
        geom: GeoJSONGeometryInput("POINT", srid=3857, transform=True)

    model = Projected.model_validate({"geom": {"type": "Point", "coordinates": [-74, 40.7]}})
    assert model.geom.srid == 3857
    assert model.geom.shape.x == pytest.approx(-8237642.318, abs=1e-3)
    lon, lat = model.model_dump()["geom"]["coordinates"]
    assert (lon, lat) == (pytest.approx(-74), pytest.approx(40.7))


def test_make_valid_and_promote_options():
    class Zoning(BaseModel):
        geom: GeoJSONGeometryInput("MULTIPOLYGON", make_valid=True, promote_to_multi=True)

    repaired = Zoning.model_validate({"geom": BOWTIE}).geom
    assert (repaired.geometry_type, repaired.repaired) == ("MULTIPOLYGON", True)
    promoted = Zoning.model_validate({"geom": SQUARE}).geom
    assert (promoted.geometry_type, promoted.repaired) == ("MULTIPOLYGON", False)


def test_python_mode_accepts_shapely_and_parsed_geometries():
    square = shapely.geometry.shape(SQUARE)
    parcel = ParcelIn(parcel_id="a", geom=square)
    assert parcel.geom.geometry_type == "POLYGON"
    assert ParcelIn(parcel_id="b", geom=parcel.geom).geom is parcel.geom


def test_json_schema_describes_a_geojson_polygon():
    schema = ParcelIn.model_json_schema()
    geom = schema["properties"]["geom"]
    assert geom["title"] == "Polygon"
    assert geom["type"] == "object"
    assert geom["properties"]["type"]["const"] == "Polygon"
    assert set(geom["required"]) == {"type", "coordinates"}
    assert geom["properties"]["coordinates"]["type"] == "array"
    # Responses are documented the same way.
    serialization = ParcelIn.model_json_schema(mode="serialization")
    assert serialization["properties"]["geom"]["properties"]["type"]["const"] == "Polygon"


def test_json_schema_of_any_geometry_and_of_promoted_multi():
    schema = AnyGeometryIn.model_json_schema()
    refs = {option["$ref"].rsplit("/", 1)[1] for option in schema["properties"]["geom"]["oneOf"]}
    assert refs == {
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    }

    class Zoning(BaseModel):
        geom: GeoJSONGeometryInput("MULTIPOLYGON", promote_to_multi=True)

    options = Zoning.model_json_schema()["properties"]["geom"]["anyOf"]
    titles = {option.get("title") or option["$ref"].rsplit("/", 1)[1] for option in options}
    assert titles == {"Polygon", "MultiPolygon"}


def test_bad_field_configuration_fails_at_class_definition():
    with pytest.raises(ConfigError):
        GeoJSONGeometryInput("CIRCLE")
    with pytest.raises(ConfigError):
        GeoJSONGeometry("POINT", srid=0)
