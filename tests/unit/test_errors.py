import pytest

import pgspatial
from pgspatial import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.SridMismatch, ValueError),
        (errors.InvalidGeometry, ValueError),
        (errors.QueryTimeout, TimeoutError),
    ],
)
def test_domain_errors_are_also_builtin_errors(cls, builtin):
    assert issubclass(cls, errors.PgSpatialError)
    assert issubclass(cls, builtin)


def test_every_exported_error_belongs_to_the_tree():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.PgSpatialError), name


def test_public_api_exports_the_error_contract():
    for name in (
        "PgSpatialError",
        "SridMismatch",
        "InvalidGeometry",
        "QueryTimeout",
        "SchemaError",
    ):
        assert name in pgspatial.__all__
        assert getattr(pgspatial, name) is getattr(errors, name)


def test_errors_carry_structured_details():
    error = errors.SridMismatch(
        "geometry has SRID 3857, column wants 4326", expected=4326, actual=3857
    )
    assert (error.expected, error.actual) == (4326, 3857)
    assert errors.QueryTimeout("cancelled after 30000 ms", timeout_ms=30000).timeout_ms == 30000


def test_every_public_name_resolves():
    for name in pgspatial.__all__:
        assert getattr(pgspatial, name) is not None, name


def test_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, pgspatial; print(sorted(m for m in ('pyproj', 'shapely', 'geoalchemy2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
