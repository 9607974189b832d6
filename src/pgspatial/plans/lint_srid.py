"""Lint rules about coordinate systems: mixed SRIDs, and Web Mercator units taken for metres.

- ``MIXED_LITERAL_SRIDS``: two geometries in different SRIDs meet in one predicate or
  function. Most functions raise "mixed SRID geometries", but ``&&`` silently compares raw
  coordinates and ``ST_Intersects`` can silently return no rows (errata 5).
- ``METRES_ON_3857``: a radius, distance, length or area on EPSG:3857 data. Web Mercator
  units are not ground metres: lengths are stretched by sec(latitude), 1.32 times at New
  York, and areas by sec²(latitude), 1.74 times (errata 3 and 17).

SRIDs are known from the statement's own literals and, when given, from the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.ast import A_Expr, FuncCall, Node

from pgspatial.catalog import Catalog
from pgspatial.plans._ast import Scope, display, function_name, operator_name, own_nodes
from pgspatial.plans._facts import MERCATOR_SRIDS, srid_of
from pgspatial.plans.findings import Finding, finding
from pgspatial.plans.lint_index import DISTANCE_FUNCTIONS, INDEX_FUNCTIONS, INDEX_OPERATORS

__all__ = ["metres_on_mercator", "mixed_srids"]

# Functions that combine their first two geometry arguments (and so need one SRID).
_BINARY_FUNCTIONS = INDEX_FUNCTIONS | DISTANCE_FUNCTIONS | {
    "st_disjoint", "st_relate", "st_intersection", "st_difference", "st_symdifference",
    "st_union", "st_closestpoint", "st_shortestline", "st_longestline", "st_maxdistance",
    "st_hausdorffdistance", "st_frechetdistance", "st_collect", "st_makeline",
}  # fmt: skip
_BINARY_OPERATORS = INDEX_OPERATORS | {"<->", "<#>", "<<->>", "<<#>>", "|=|"}
_RADIUS_FUNCTIONS = {"st_dwithin": 2, "st_dfullywithin": 2, "st_buffer": 1}
_MEASURE_FUNCTIONS = {
    "st_area": "area",
    "st_length": "length",
    "st_length2d": "length",
    "st_3dlength": "length",
    "st_perimeter": "length",
    "st_distance": "length",
    "st_maxdistance": "length",
}


def _geometry_operands(node: Node) -> tuple[Node, ...]:
    """The geometry operands of a two-geometry function or operator (else none)."""
    if isinstance(node, FuncCall) and function_name(node) in _BINARY_FUNCTIONS:
        args = node.args or ()
        if len(args) >= 2 and not node.agg_star:
            return (args[0], args[1])
    if (
        isinstance(node, A_Expr)
        and operator_name(node) in _BINARY_OPERATORS
        and isinstance(node.lexpr, Node)
        and isinstance(node.rexpr, Node)
    ):
        return (node.lexpr, node.rexpr)
    return ()


def mixed_srids(scope: Scope, catalog: Catalog | None) -> Iterator[Finding]:
    """``MIXED_LITERAL_SRIDS``: one predicate or function, two different known SRIDs."""
    for node in own_nodes(scope.statement):
        operands = _geometry_operands(node)
        if not operands:
            continue
        first, second = (srid_of(operand, scope, catalog) for operand in operands)
        if first is None or second is None or first == second:
            continue
        name = function_name(node) or operator_name(node)
        yield finding(
            "MIXED_LITERAL_SRIDS",
            "error",
            f"{name} compares SRID {first} ({display(operands[0], 60)}) with SRID {second} "
            f"({display(operands[1], 60)}). PostGIS does not reproject: && silently compares "
            "raw coordinates and ST_Intersects can silently return no rows (errata 5). "
            f"Transform one side, e.g. ST_Transform({display(operands[1], 60)}, {first}), or "
            f"build the geometry with pgspatial.parse_geometry(..., srid={first}, "
            "transform=True).",
            node,
        )


def _mercator_srid(operands: tuple[Node, ...], scope: Scope, catalog: Catalog | None) -> int | None:
    for operand in operands:
        srid = srid_of(operand, scope, catalog)
        if srid in MERCATOR_SRIDS:
            return srid
    return None


def metres_on_mercator(scope: Scope, catalog: Catalog | None) -> Iterator[Finding]:
    """``METRES_ON_3857``: radii, distances, lengths and areas in Web Mercator units."""
    for node in own_nodes(scope.statement):
        name = function_name(node)
        if name is None or not isinstance(node, FuncCall):
            continue
        args = node.args or ()
        if name in _RADIUS_FUNCTIONS and len(args) > _RADIUS_FUNCTIONS[name]:
            srid = _mercator_srid(tuple(args[: _RADIUS_FUNCTIONS[name]]), scope, catalog)
            if srid is None:
                continue
            radius = display(args[_RADIUS_FUNCTIONS[name]], 40)
            todo = (
                "ST_Buffer(geom::geography, metres) or pgspatial.within_distance"
                if name == "st_buffer"
                else "pgspatial.within_distance(column, point, metres), or ST_DWithin on "
                "geography (a::geography, b::geography, metres)"
            )
            message = (
                f"{name}(..., {radius}) measures in EPSG:{srid} units, which are not ground "
                "metres: Web Mercator stretches lengths by sec(latitude), so a radius of 500 is "
                f"about 379 m at New York, 40.75°N (errata 17). Use {todo}."
            )
        elif name in _MEASURE_FUNCTIONS:
            count = 2 if name in {"st_distance", "st_maxdistance"} else 1
            srid = _mercator_srid(tuple(args[:count]), scope, catalog)
            if srid is None:
                continue
            quantity = _MEASURE_FUNCTIONS[name]
            scale = (
                "sec²(latitude): 1.74 times" if quantity == "area" else "sec(latitude): 1.32 times"
            )
            spelled = (
                f"{name}(a::geography, b::geography)" if count == 2 else f"{name}(geom::geography)"
            )
            message = (
                f"{name}() on EPSG:{srid} gives Web Mercator units, not ground {quantity}: it "
                f"inflates {quantity}s by {scale} at New York (errata 3). Measure on the "
                f"spheroid instead: {spelled} (metres), as GeodesicMetrics' "
                "area_m2 / length_m / perimeter_m do in SQL and in Python."
            )
        else:
            continue
        yield finding("METRES_ON_3857", "warning", message, node)
