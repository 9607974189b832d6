"""Assertions for tests of spatial code: the plan uses the index, two geometries are equal.

``assert_index_scan`` proves a query keeps the GiST index in play (errata 1 and 16 show how
easily a cast loses it); name the index to prove the right one is used.
``assert_geometry_equal`` compares geometries whatever their representation, with a
tolerance, and says how far apart they are when they differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the plugin imports this package: keep pglast & co. out until used
    from pgspatial.plans.explain import Bind, Statement
    from pgspatial.plans.model import Plan

__all__ = ["assert_geometry_equal", "assert_index_scan"]

_WKT_LIMIT = 200


def assert_index_scan(
    bind: Bind,
    statement: Statement,
    index: str | None = None,
    *,
    disable_seqscan: bool = False,
    params: Mapping[str, Any] | None = None,
) -> Plan:
    """Fail unless the plan of ``statement`` reads through an index (``index``, if named).

    ``bind`` is a Session, Connection or Engine. ``disable_seqscan=True`` is an explicit
    opt-in for tiny test tables, where a sequential scan is genuinely cheaper: it plans with
    ``enable_seqscan = off`` set by SET LOCAL inside a savepoint that is rolled back, so the
    setting never leaks into the test's transaction. Returns the plan for further checks.
    """
    from pgspatial.plans.explain import explain

    settings = {"enable_seqscan": False} if disable_seqscan else None
    plan = explain(bind, statement, params=params, settings=settings)
    if plan.uses_index(index):
        return plan
    wanted = f"the index {index}" if index else "an index"
    used = plan.index_names()
    other = f" (it uses {', '.join(used)} instead)" if index and used else ""
    hint = (
        ""
        if disable_seqscan
        else "\nFor a tiny test table, where a sequential scan is cheaper, pass "
        "disable_seqscan=True or load more rows and ANALYZE."
    )
    raise AssertionError(
        f"expected the plan to use {wanted}{other}: {plan.verdict()}\n\n{plan.to_text()}{hint}"
    )


def _shape_and_srid(value: object, label: str) -> tuple[Any, int | None]:
    """Decode like :func:`pgspatial.parse_geometry` does, without requiring validity."""
    from pgspatial.errors import PgSpatialError
    from pgspatial.geometry.decode import decode_geometry

    try:
        shape, srid, _ = decode_geometry(value)
    except PgSpatialError as error:
        raise AssertionError(f"{label} is not a geometry: {error}") from None
    return shape, srid


def _wkt(shape: Any) -> str:
    import shapely

    text = str(shapely.to_wkt(shape, rounding_precision=-1, trim=True))
    return text if len(text) <= _WKT_LIMIT else text[: _WKT_LIMIT - 1] + "…"


def assert_geometry_equal(actual: object, expected: object, *, tolerance: float = 0.0) -> None:
    """Fail unless two geometries are equal, vertex by vertex, within ``tolerance``.

    Both take any input :func:`pgspatial.parse_geometry` accepts (GeoJSON, WKT, EWKT,
    WKB/EWKB, Shapely, GeoAlchemy2 elements). Validity is not required, so an invalid or
    empty result can be compared too. Both are normalized first (``shapely.normalize``:
    ring start and orientation, part order do not matter), then compared with
    ``equals_exact(tolerance)``. SRIDs are compared when both are known. The failure message
    shows both WKTs and their Hausdorff distance.
    """
    import shapely

    a, a_srid = _shape_and_srid(actual, "actual")
    b, b_srid = _shape_and_srid(expected, "expected")
    if a_srid is not None and b_srid is not None and a_srid != b_srid:
        raise AssertionError(
            f"geometries are in different SRIDs: actual {a_srid}, expected {b_srid}; transform "
            f"one of them first (ST_Transform / parse_geometry(..., srid={b_srid}, "
            "transform=True))"
        )
    a_norm, b_norm = shapely.normalize(a), shapely.normalize(b)
    if bool(shapely.equals_exact(a_norm, b_norm, tolerance=tolerance)):
        return
    if a.is_empty or b.is_empty:
        distance = "n/a (an empty geometry)"
    else:
        distance = f"{float(shapely.hausdorff_distance(a_norm, b_norm)):.6g}"
    raise AssertionError(
        f"geometries differ (tolerance {tolerance:g}; Hausdorff distance {distance})\n"
        f"  actual:   {_wkt(a_norm)}\n"
        f"  expected: {_wkt(b_norm)}"
    )
